import { Arg, Ctx, Mutation, Resolver } from 'type-graphql';
import { AuthPayload, COOKIE_DESCRIPTION } from '../auth/auth.types';
import { inCookie } from '../auth/refresh-cookie';
import { afterResponse, httpResponse, type Context } from '../core/context';
import { callerOf } from '../users/user.actor';
import { requestSignInCode, signInWithCode } from './sign-in-code.service';

@Resolver()
export class SignInCodeResolver {
  @Mutation(() => Boolean, {
    description:
      'Mails a 6-digit sign-in code (valid 10 minutes, once) if an account has this email. Always true: it tells nothing.',
  })
  requestSignInCode(@Arg('email', () => String) email: string, @Ctx() ctx: Context): Promise<boolean> {
    return requestSignInCode(email, callerOf(ctx), afterResponse(ctx));
  }

  @Mutation(() => AuthPayload, {
    description:
      'Signs in with the code from requestSignInCode and starts a session; marks the address verified. An unknown email and a wrong, expired or used code are all UNAUTHENTICATED with reason CODE_INVALID.',
  })
  async signInWithCode(
    @Arg('email', () => String) email: string,
    @Arg('code', () => String) code: string,
    @Arg('totpCode', () => String, {
      nullable: true,
      description:
        'With two-factor sign-in on: a code from the authenticator app or a recovery code. Without it the answer is UNAUTHENTICATED with reason MFA_REQUIRED and the email code stays usable.',
    })
    totpCode: string | null | undefined,
    @Arg('useCookie', () => Boolean, { nullable: true, description: COOKIE_DESCRIPTION }) useCookie: boolean | null,
    @Ctx() ctx: Context,
  ): Promise<AuthPayload> {
    const result = await signInWithCode({ email, code, totpCode }, callerOf(ctx));
    return useCookie ? inCookie(httpResponse(ctx), result) : result;
  }
}
