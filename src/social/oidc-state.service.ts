import type { Caller } from '../core/context';
import { sha256 } from '../core/crypto';
import { BadUserInputError } from '../core/errors';
import { atomically, op } from '../infra/db';
import { limitAttempt } from '../infra/rate-limit';
import { OidcState, OidcStateModel, type VerifiedIdentity } from './oidc-state.model';
import { authorizationFor, checkRedirectUri, providerOf } from './provider';

/** How long a provider round trip may take, from start… to finish…. */
export const STATE_TTL_MS = 10 * 60_000;

const key = (state: string) => `oidc-state:${state}`;

/**
 * `start…`: a new state for the provider and redirect URI (both checked), and the URL to send the
 * browser to. Rate-limited per IP like a sign-in: each start stores a state.
 */
export async function startRoundTrip(
  providerId: string,
  redirectUri: string,
  owner: { purpose: 'signIn'; binding: string } | { purpose: 'link'; userId: string },
  caller: Caller,
): Promise<{ url: string; expiresAt: Date }> {
  const { config, client, logger } = caller;
  const provider = providerOf(config, providerId);
  checkRedirectUri(config, redirectUri);
  await limitAttempt(config, 'oidc', client.ip);
  const { url, pending } = await authorizationFor(provider, redirectUri, logger);
  const expiresAt = new Date(Date.now() + STATE_TTL_MS);
  await OidcStateModel.create({
    _id: pending.state,
    provider: provider.id,
    redirectUri,
    purpose: owner.purpose,
    userId: owner.purpose === 'link' ? owner.userId : null,
    bindingHash: owner.purpose === 'signIn' ? sha256(owner.binding) : null,
    codeVerifier: pending.codeVerifier,
    nonce: pending.nonce,
    expiresAt,
  });
  return { url: url.href, expiresAt };
}

/** The strings a callback brings, bounded before anything is looked up. */
export function checkCallback(code: string, state: string): void {
  if (code.length > 2048) throw new BadUserInputError('code', 'code is too long');
  if (state.length > 128) throw new BadUserInputError('state', 'state is too long');
}

/**
 * Claims a live state for one finish: of two parallel finishes with one state, one gets it. Null
 * when it is unknown, of another purpose, browser (sign-in) or user (link), used, claimed, or expired.
 */
export async function claimState(
  state: string,
  owner: { purpose: 'signIn'; binding: string | undefined } | { purpose: 'link'; userId: string },
): Promise<OidcState | null> {
  // Without the binding cookie nothing matches; a wrong one leaves the state to its own browser.
  const bound =
    owner.purpose === 'signIn'
      ? { bindingHash: owner.binding ? sha256(owner.binding) : '-' }
      : { userId: owner.userId };
  return atomically(key(state), () =>
    OidcStateModel.findOneAndUpdate(
      { _id: state, purpose: owner.purpose, claimedAt: null, expiresAt: op({ $gt: new Date() }), ...bound },
      { $set: { claimedAt: new Date() } },
      { returnDocument: 'after' },
    ).lean<OidcState>(),
  );
}

/**
 * Gives a claimed state back for a retry: with the identity its code proved (a TOTP code was
 * missing or wrong), or without one (the provider could not be reached; the code is unused).
 */
export function releaseState(state: string, identity: VerifiedIdentity | null): Promise<unknown> {
  return atomically(key(state), () =>
    OidcStateModel.updateOne({ _id: state }, { $set: { claimedAt: null, ...(identity ? { identity } : {}) } }),
  );
}

export function deleteState(state: string): Promise<unknown> {
  return atomically(key(state), () => OidcStateModel.deleteOne({ _id: state }));
}
