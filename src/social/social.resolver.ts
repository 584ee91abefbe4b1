import { Arg, Ctx, ID, Mutation, Query, Resolver } from 'type-graphql';
import { AuthPayload, COOKIE_DESCRIPTION } from '../auth/auth.types';
import { randomBytes } from 'node:crypto';
import { inCookie, readCookie } from '../auth/refresh-cookie';
import { STATE_TTL_MS } from './oidc-state.service';
import { httpResponse, requireUser, type Context } from '../core/context';
import { callerOf } from '../users/user.actor';
import { LinkedIdentity } from './identity.model';
import * as social from './social.service';
import { ProviderRedirect, SignInProvider } from './social.types';

/**
 * Binds a provider sign-in to the browser that started it: set by startProviderSignIn, required by
 * finishProviderSignIn (a login CSRF would bring someone else's state without it). httpOnly,
 * `__Host-` (this host, Secure, Path=/), SameSite=Lax, for the state's 10 minutes.
 */
const BINDING_COOKIE = '__Host-oidc_binding';

@Resolver()
export class SocialResolver {
  @Query(() => [SignInProvider], { description: 'The providers people may sign in with (OIDC_PROVIDERS).' })
  signInProviders(@Ctx() ctx: Context): SignInProvider[] {
    return ctx.config.oidc.providers.map(({ id, name }) => ({ id, name }));
  }

  @Query(() => [LinkedIdentity], { description: 'My provider identities, oldest first.' })
  linkedIdentities(@Ctx() ctx: Context): Promise<LinkedIdentity[]> {
    return social.listIdentities(requireUser(ctx).id);
  }

  @Mutation(() => ProviderRedirect, {
    description:
      'Starts a sign-in at a provider: send the browser to url; the provider comes back to redirectUri (one of OIDC_REDIRECT_URIS) with code and state for finishProviderSignIn.',
  })
  async startProviderSignIn(
    @Arg('provider', () => String) provider: string,
    @Arg('redirectUri', () => String) redirectUri: string,
    @Ctx() ctx: Context,
  ): Promise<ProviderRedirect> {
    const binding = randomBytes(32).toString('base64url');
    const redirect = await social.startSignIn(provider, redirectUri, binding, callerOf(ctx));
    httpResponse(ctx).cookie(BINDING_COOKIE, binding, {
      httpOnly: true,
      secure: true,
      sameSite: 'lax',
      path: '/',
      maxAge: STATE_TTL_MS,
    });
    return redirect;
  }

  @Mutation(() => AuthPayload, {
    description:
      "Finishes a provider sign-in with the callback's code and state: signs in the linked account, links an account whose verified email matches, or creates one without a password. Anything that proves nothing is UNAUTHENTICATED with reason PROVIDER_SIGN_IN_INVALID.",
  })
  async finishProviderSignIn(
    @Arg('code', () => String) code: string,
    @Arg('state', () => String) state: string,
    @Ctx() ctx: Context,
    @Arg('totpCode', () => String, {
      nullable: true,
      description:
        'Accounts with two-factor sign-in: without it, MFA_REQUIRED, and the state stays usable for the retry.',
    })
    totpCode?: string | null,
    @Arg('useCookie', () => Boolean, { nullable: true, description: COOKIE_DESCRIPTION }) useCookie?: boolean | null,
  ): Promise<AuthPayload> {
    const binding = readCookie(ctx.req, BINDING_COOKIE);
    const result = await social.finishSignIn({ code, state, totpCode, binding }, callerOf(ctx));
    return useCookie ? inCookie(httpResponse(ctx), result) : result;
  }

  @Mutation(() => ProviderRedirect, {
    description: 'Starts linking a provider account to mine. Needs the re-authentication window of this session.',
  })
  startProviderLink(
    @Arg('provider', () => String) provider: string,
    @Arg('redirectUri', () => String) redirectUri: string,
    @Ctx() ctx: Context,
  ): Promise<ProviderRedirect> {
    return social.startLink(requireUser(ctx), provider, redirectUri, callerOf(ctx));
  }

  @Mutation(() => LinkedIdentity, {
    description:
      "Finishes linking with the callback's code and state; CONFLICT when another account has that identity.",
  })
  finishProviderLink(
    @Arg('code', () => String) code: string,
    @Arg('state', () => String) state: string,
    @Ctx() ctx: Context,
  ): Promise<LinkedIdentity> {
    return social.finishLink(requireUser(ctx), { code, state }, callerOf(ctx));
  }

  @Mutation(() => Boolean, {
    description:
      'Unlinks one of my provider identities. Needs the re-authentication window; CONFLICT when it is my last way to sign in.',
  })
  unlinkIdentity(@Arg('id', () => ID) id: string, @Ctx() ctx: Context): Promise<boolean> {
    return social.unlink(requireUser(ctx), id, callerOf(ctx));
  }
}
