import { Arg, Ctx, FieldResolver, ID, Mutation, Resolver, Root } from 'type-graphql';
import { REAUTH_ARGUMENT } from '../auth/reauthentication';
import { requireUser, type Context } from '../core/context';
import { actorOf, callerOf } from '../users/user.actor';
import { User } from '../users/user.model';
import * as totp from './totp.service';
import { TotpSetup } from './totp.types';

@Resolver(() => User)
export class TotpResolver {
  @FieldResolver(() => Boolean)
  totpEnabled(@Root() user: User): boolean {
    return user.totpEnabled ?? false;
  }

  @Mutation(() => TotpSetup, {
    description:
      'Starts two-factor sign-in: a new secret to scan, pending until confirmTotpSetup. A new call replaces a pending one. CONFLICT when already enabled.',
  })
  beginTotpSetup(
    @Arg('currentPassword', () => String, { nullable: true, description: REAUTH_ARGUMENT })
    currentPassword: string | null | undefined,
    @Ctx() ctx: Context,
  ): Promise<TotpSetup> {
    return totp.beginTotpSetup(requireUser(ctx), currentPassword, callerOf(ctx));
  }

  @Mutation(() => [String], {
    description:
      'Turns two-factor sign-in on with the first code from the app; returns 10 single-use recovery codes, shown only this once. Ends my other sessions. A wrong code is BAD_USER_INPUT and counts towards the sign-in lockout: the one that uses up the last attempt also drops the pending setup (start again with beginTotpSetup), and while locked every attempt is TOO_MANY_REQUESTS.',
  })
  confirmTotpSetup(@Arg('code', () => String) code: string, @Ctx() ctx: Context): Promise<string[]> {
    return totp.confirmTotpSetup(requireUser(ctx), code, callerOf(ctx));
  }

  @Mutation(() => Boolean, {
    description:
      'Turns two-factor sign-in off; `code` is a code from the app or a recovery code. Ends my other sessions.',
  })
  disableTotp(
    @Arg('currentPassword', () => String, { nullable: true, description: REAUTH_ARGUMENT })
    currentPassword: string | null | undefined,
    @Arg('code', () => String) code: string,
    @Ctx() ctx: Context,
  ): Promise<boolean> {
    return totp.disableTotp(requireUser(ctx), { currentPassword, code }, callerOf(ctx));
  }

  @Mutation(() => [String], {
    description: 'Replaces all my recovery codes with 10 new ones; `code` is a code from the app or a recovery code.',
  })
  regenerateRecoveryCodes(
    @Arg('currentPassword', () => String, { nullable: true, description: REAUTH_ARGUMENT })
    currentPassword: string | null | undefined,
    @Arg('code', () => String) code: string,
    @Ctx() ctx: Context,
  ): Promise<string[]> {
    return totp.regenerateRecoveryCodes(requireUser(ctx), { currentPassword, code }, callerOf(ctx));
  }

  @Mutation(() => User, { description: "ADMIN: turns a user's two-factor sign-in off and ends all of its sessions." })
  resetUserTotp(@Arg('userId', () => ID) userId: string, @Ctx() ctx: Context): Promise<User> {
    return totp.resetUserTotp(actorOf(ctx), userId);
  }
}
