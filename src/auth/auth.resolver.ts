import { Arg, Ctx, ID, Mutation, Query, Resolver } from 'type-graphql';
import type { AuthUser, Context } from '../context';
import { UnauthenticatedError } from '../core/errors';
import { clientInfo } from '../core/http';
import { AuthPayload, LoginInput, RegisterInput } from './auth.inputs';
import type { ClientInfo } from './auth.types';
import * as auth from './auth.service';
import { refresh } from './refresh.service';
import * as sessions from './session.service';
import { Session } from './session.model';

function client(ctx: Context): ClientInfo {
  return clientInfo(ctx.req);
}

/** Shield guarantees a user on these fields; this keeps TypeScript honest about it. */
function signedIn(ctx: Context): AuthUser {
  if (!ctx.user) throw new UnauthenticatedError();
  return ctx.user;
}

@Resolver()
export class AuthResolver {
  @Mutation(() => AuthPayload, { description: 'Creates an account and signs it in.' })
  register(@Arg('input', () => RegisterInput) input: RegisterInput, @Ctx() ctx: Context): Promise<AuthPayload> {
    return auth.register(ctx.config, input, client(ctx), ctx.logger);
  }

  @Mutation(() => AuthPayload, { description: 'Signs in with email and password; starts a session.' })
  login(@Arg('input', () => LoginInput) input: LoginInput, @Ctx() ctx: Context): Promise<AuthPayload> {
    return auth.login(ctx.config, input, client(ctx), ctx.logger);
  }

  @Mutation(() => AuthPayload, { description: 'Exchanges a refresh token for a new pair; the old one stops working.' })
  refreshToken(@Arg('refreshToken', () => String) refreshToken: string, @Ctx() ctx: Context): Promise<AuthPayload> {
    return refresh(ctx.config, refreshToken, client(ctx), ctx.logger);
  }

  @Mutation(() => Boolean, {
    description: "Revokes the refresh token's session. False when it matched no active session.",
  })
  logout(@Arg('refreshToken', () => String) refreshToken: string, @Ctx() ctx: Context): Promise<boolean> {
    return sessions.logout(refreshToken, client(ctx), ctx.logger);
  }

  @Mutation(() => Boolean, { description: 'Revokes every session and every access token issued so far.' })
  logoutAll(@Ctx() ctx: Context): Promise<boolean> {
    return sessions.logoutAll(signedIn(ctx).id, client(ctx), ctx.logger);
  }

  @Mutation(() => Boolean, { description: 'Revokes one of my sessions.' })
  revokeSession(@Arg('id', () => ID) id: string, @Ctx() ctx: Context): Promise<boolean> {
    return sessions.revokeSession(signedIn(ctx), id, client(ctx), ctx.logger);
  }

  @Mutation(() => AuthPayload, {
    description: 'Changes my password; revokes all my other sessions and older access tokens.',
  })
  changePassword(
    @Arg('currentPassword', () => String) currentPassword: string,
    @Arg('newPassword', () => String) newPassword: string,
    @Ctx() ctx: Context,
  ): Promise<AuthPayload> {
    return auth.changePassword(ctx.config, signedIn(ctx), currentPassword, newPassword, client(ctx), ctx.logger);
  }

  @Query(() => [Session], { description: 'My active sessions, newest first.' })
  sessions(@Ctx() ctx: Context): Promise<Session[]> {
    return sessions.listSessions(ctx.config, signedIn(ctx));
  }
}
