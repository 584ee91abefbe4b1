import { Arg, Ctx, ID, Mutation, Resolver } from 'type-graphql';
import { AuthPayload, COOKIE_DESCRIPTION } from '../auth/auth.types';
import { REAUTH_ARGUMENT } from '../auth/reauthentication';
import { inCookie } from '../auth/refresh-cookie';
import { afterResponse, httpResponse, requireUser, type Context } from '../core/context';
import { User } from '../users/user.model';
import * as deletion from './account-deletion.service';
import { confirmEmailChange, requestEmailChange } from './email-change.service';
import { requestEmailVerification, verifyEmail } from './email-verification.service';
import { requestPasswordReset, resetPassword } from './password-reset.service';
import { actorOf, callerOf } from '../users/user.actor';

@Resolver()
export class AccountResolver {
  @Mutation(() => Boolean, { description: 'Mails me a new verification link; false when my address is verified.' })
  requestEmailVerification(@Ctx() ctx: Context): Promise<boolean> {
    return requestEmailVerification(requireUser(ctx).id, callerOf(ctx));
  }

  @Mutation(() => User, { description: 'Marks the address verified, with the token from the link.' })
  verifyEmail(@Arg('token', () => String) token: string, @Ctx() ctx: Context): Promise<User> {
    return verifyEmail(token, callerOf(ctx));
  }

  @Mutation(() => Boolean, {
    description: 'Mails a password reset link if an account has this email. Always true: it tells nothing.',
  })
  requestPasswordReset(@Arg('email', () => String) email: string, @Ctx() ctx: Context): Promise<boolean> {
    return requestPasswordReset(email, callerOf(ctx), afterResponse(ctx));
  }

  @Mutation(() => AuthPayload, {
    description: 'Sets a new password with the token from a reset link; ends every other session and signs in.',
  })
  async resetPassword(
    @Arg('token', () => String) token: string,
    @Arg('newPassword', () => String) newPassword: string,
    @Arg('useCookie', () => Boolean, { nullable: true, description: COOKIE_DESCRIPTION }) useCookie: boolean | null,
    @Ctx() ctx: Context,
    @Arg('totpCode', () => String, {
      nullable: true,
      description:
        'With two-factor sign-in on: a code from the authenticator app or a recovery code. Without it the answer is UNAUTHENTICATED with reason MFA_REQUIRED and the link stays usable.',
    })
    totpCode?: string | null,
  ): Promise<AuthPayload> {
    const result = await resetPassword({ token, newPassword, totpCode }, callerOf(ctx));
    return useCookie ? inCookie(httpResponse(ctx), result) : result;
  }

  @Mutation(() => Boolean, {
    description: 'Mails a confirmation link to a new address. Needs my password or a recent reauthenticate.',
  })
  requestEmailChange(
    @Arg('newEmail', () => String) newEmail: string,
    @Arg('currentPassword', () => String, { nullable: true, description: REAUTH_ARGUMENT })
    currentPassword: string | null | undefined,
    @Ctx() ctx: Context,
  ): Promise<boolean> {
    return requestEmailChange(requireUser(ctx), { newEmail, currentPassword }, callerOf(ctx));
  }

  @Mutation(() => User, { description: 'Switches my email to the new address, with the token from the link.' })
  confirmEmailChange(@Arg('token', () => String) token: string, @Ctx() ctx: Context): Promise<User> {
    return confirmEmailChange(token, ctx.user, callerOf(ctx));
  }

  @Mutation(() => Boolean, {
    description:
      'Deletes my account, my sessions and my items; the email becomes free. Needs my password or a recent reauthenticate.',
  })
  deleteAccount(
    @Arg('currentPassword', () => String, { nullable: true, description: REAUTH_ARGUMENT })
    currentPassword: string | null | undefined,
    @Ctx() ctx: Context,
  ): Promise<boolean> {
    return deletion.deleteAccount(requireUser(ctx), actorOf(ctx), currentPassword, callerOf(ctx));
  }

  @Mutation(() => Boolean, { description: 'ADMIN: deletes a user with its sessions and items.' })
  deleteUser(@Arg('userId', () => ID) userId: string, @Ctx() ctx: Context): Promise<boolean> {
    return deletion.deleteUser(actorOf(ctx), userId);
  }
}
