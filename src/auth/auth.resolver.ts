import { Arg, Ctx, ID, Mutation, Query, Resolver } from 'type-graphql';
import { httpResponse, requireUser, type Context } from '../core/context';
import { callerOf } from '../users/user.actor';
import { LoginInput, RegisterInput } from './auth.inputs';
import { AuthPayload } from './auth.types';
import * as auth from './auth.service';
import { assertCookieOrigin, clearRefreshCookie, inCookie, readRefreshCookie } from './refresh-cookie';
import { invalidRefreshToken, refresh } from './refresh.service';
import * as sessions from './session.service';
import { Session } from './session.model';
import { User } from '../users/user.model';
import { REAUTH_ARGUMENT } from './reauthentication';

@Resolver()
export class AuthResolver {
  @Mutation(() => AuthPayload, { description: 'Creates an account and signs it in.' })
  async register(@Arg('input', () => RegisterInput) input: RegisterInput, @Ctx() ctx: Context): Promise<AuthPayload> {
    const result = await auth.register(input, callerOf(ctx));
    return input.useCookie ? inCookie(httpResponse(ctx), result) : result;
  }

  @Mutation(() => AuthPayload, { description: 'Signs in with email and password; starts a session.' })
  async login(@Arg('input', () => LoginInput) input: LoginInput, @Ctx() ctx: Context): Promise<AuthPayload> {
    const result = await auth.login(input, callerOf(ctx));
    return input.useCookie ? inCookie(httpResponse(ctx), result) : result;
  }

  @Mutation(() => AuthPayload, {
    description:
      'Exchanges a refresh token for a new pair; the old one stops working. Without the argument, uses (and rotates) the refresh cookie.',
  })
  async refreshToken(
    @Arg('refreshToken', () => String, { nullable: true }) refreshToken: string | null,
    @Ctx() ctx: Context,
  ): Promise<AuthPayload> {
    if (typeof refreshToken === 'string') return refresh(refreshToken, callerOf(ctx));
    const cookie = readRefreshCookie(ctx.req);
    if (!cookie) throw invalidRefreshToken();
    assertCookieOrigin(ctx.req, ctx.config);
    return inCookie(httpResponse(ctx), await refresh(cookie, callerOf(ctx)));
  }

  @Mutation(() => Boolean, {
    description: "Revokes the refresh token's session. False when it matched no active session.",
  })
  async logout(
    @Arg('refreshToken', () => String, { nullable: true }) refreshToken: string | null,
    @Ctx() ctx: Context,
  ): Promise<boolean> {
    let token = refreshToken;
    if (typeof token !== 'string') {
      const cookie = readRefreshCookie(ctx.req);
      if (!cookie) return false;
      assertCookieOrigin(ctx.req, ctx.config);
      token = cookie;
    }
    clearRefreshCookie(httpResponse(ctx));
    return sessions.logout(token, callerOf(ctx));
  }

  @Mutation(() => Boolean, { description: 'Revokes every session and every access token issued so far.' })
  logoutAll(@Ctx() ctx: Context): Promise<boolean> {
    clearRefreshCookie(httpResponse(ctx));
    return sessions.logoutAll(requireUser(ctx).id, callerOf(ctx));
  }

  @Mutation(() => Boolean, { description: 'Revokes one of my sessions.' })
  revokeSession(@Arg('id', () => ID) id: string, @Ctx() ctx: Context): Promise<boolean> {
    return sessions.revokeSession(requireUser(ctx), id, callerOf(ctx));
  }

  @Mutation(() => AuthPayload, {
    description: 'Changes my password; revokes all my other sessions and older access tokens.',
  })
  async changePassword(
    @Arg('currentPassword', () => String, { nullable: true, description: REAUTH_ARGUMENT })
    currentPassword: string | null | undefined,
    @Arg('newPassword', () => String) newPassword: string,
    @Ctx() ctx: Context,
  ): Promise<AuthPayload> {
    const result = await auth.changePassword(requireUser(ctx), { currentPassword, newPassword }, callerOf(ctx));
    // The caller's session moved to the new token version: later fields of this request act under it.
    if (ctx.user) ctx.user.tokenVersion = result.user.tokenVersion;
    // A client in cookie mode keeps its session: the new refresh token replaces the cookie.
    return readRefreshCookie(ctx.req) ? inCookie(httpResponse(ctx), result) : result;
  }

  @Mutation(() => User, {
    description:
      'Gives an account without a password its first one (same rules as register). Needs the re-authentication window of this session (reauthenticate by passkey or email code); CONFLICT when it has one.',
  })
  setPassword(@Arg('newPassword', () => String) newPassword: string, @Ctx() ctx: Context): Promise<User> {
    return auth.setPassword(requireUser(ctx), newPassword, callerOf(ctx));
  }

  @Query(() => [Session], { description: 'My active sessions, newest first.' })
  sessions(@Ctx() ctx: Context): Promise<Session[]> {
    return sessions.listSessions(ctx.config, requireUser(ctx));
  }
}
