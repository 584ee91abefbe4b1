import type { Config } from '../core/config';
import { emailSchema } from '../core/validation';
import type { OidcProviderSettings } from '../core/config/oidc';
import type { Logger } from '../core/logger';
import { BadUserInputError, ServiceUnavailableError, UnauthenticatedError } from '../core/errors';
import { beginAuthorization, completeAuthorization, discoverOidc, isUnreachable, reasons } from '../infra/oidc-client';
import type { OidcState, VerifiedIdentity } from './oidc-state.model';

/** `extensions.reason` of every callback that proves nothing: bad, used or expired state, refused code, failed check. */
export const PROVIDER_SIGN_IN_INVALID = 'PROVIDER_SIGN_IN_INVALID';

export function providerSignInInvalid(): UnauthenticatedError {
  return new UnauthenticatedError('The sign-in with the provider could not be completed: start again', {
    reason: PROVIDER_SIGN_IN_INVALID,
  });
}

function providerUnavailable(provider: string): ServiceUnavailableError {
  return new ServiceUnavailableError(30, `The sign-in provider ${provider} cannot be reached; try again shortly`, {
    reason: 'PROVIDER_UNAVAILABLE',
  });
}

/** A configured provider, or BAD_USER_INPUT on `provider`. */
export function providerOf(config: Config, id: string): OidcProviderSettings {
  const found = config.oidc.providers.find((p) => p.id === id);
  if (!found) throw new BadUserInputError('provider', 'provider is not one of signInProviders');
  return found;
}

/** A redirect URI on OIDC_REDIRECT_URIS (exact match: no open redirect), or BAD_USER_INPUT. */
export function checkRedirectUri(config: Config, redirectUri: string): string {
  if (!config.oidc.redirectUris.includes(redirectUri))
    throw new BadUserInputError('redirectUri', 'redirectUri is not one of the OIDC_REDIRECT_URIS of this server');
  return redirectUri;
}

async function discovered(provider: OidcProviderSettings, logger: Logger) {
  try {
    return await discoverOidc(provider);
  } catch (err) {
    logger.warn({ provider: provider.id, reason: reasons(err) }, 'OIDC discovery failed');
    throw providerUnavailable(provider.id);
  }
}

/** The provider's authorization URL for a new state, and what to keep for its callback. */
export async function authorizationFor(provider: OidcProviderSettings, redirectUri: string, logger: Logger) {
  const configuration = await discovered(provider, logger);
  return beginAuthorization(configuration, redirectUri, provider.scopes);
}

/**
 * Redeems the callback's code at the state's provider and answers the verified identity. The
 * state names the provider, so the expected `iss` of the callback (RFC 9207) is the API's own to
 * supply. A provider that cannot be reached is SERVICE_UNAVAILABLE; anything refused is null.
 */
export async function redeemCode(
  provider: OidcProviderSettings,
  state: OidcState,
  code: string,
  logger: Logger,
): Promise<VerifiedIdentity | null> {
  const configuration = await discovered(provider, logger);
  const callback = new URL(state.redirectUri);
  callback.searchParams.set('code', code);
  callback.searchParams.set('state', state._id);
  callback.searchParams.set('iss', configuration.serverMetadata().issuer);
  try {
    const claims = await completeAuthorization(configuration, callback, {
      codeVerifier: state.codeVerifier,
      state: state._id,
      nonce: state.nonce,
    });
    return {
      subject: claims.sub,
      email: emailOf(claims.email),
      emailVerified: claims.email_verified === true,
      name: typeof claims.name === 'string' ? claims.name : null,
    };
  } catch (err) {
    if (isUnreachable(err)) throw providerUnavailable(provider.id);
    logger.info({ provider: provider.id, reason: reasons(err) }, 'OIDC callback refused');
    return null;
  }
}

/**
 * The provider's email as sign-up takes one (trimmed, lower-cased, valid, at most 254), or null.
 * One that compatibility normalisation changes is refused: a Kelvin sign lower-cases to `k`, and
 * would otherwise match someone else's address.
 */
function emailOf(raw: unknown): string | null {
  if (typeof raw !== 'string' || raw.normalize('NFKC') !== raw) return null;
  const parsed = emailSchema.safeParse(raw);
  return parsed.success ? parsed.data : null;
}
