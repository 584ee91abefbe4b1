import {
  generateAuthenticationOptions,
  verifyAuthenticationResponse,
  type AuthenticationResponseJSON,
  type PublicKeyCredentialRequestOptionsJSON,
  type VerifiedAuthenticationResponse,
} from '@simplewebauthn/server';
import { audit, AuthEvent } from '../auth/auth.audit';
import { proveCodeUnderLockout } from '../auth/credentials.service';
import { startSession } from '../auth/session.service';
import type { AuthResult } from '../auth/sign-in';
import type { Caller } from '../core/context';
import { emailNotVerified, accountDisabled, UnauthenticatedError } from '../core/errors';
import { atomically, op } from '../infra/db';
import { limitAttempt } from '../infra/rate-limit';
import { User, UserModel } from '../users/user.model';
import { PasswordlessEvent } from './passwordless.audit';
import { Passkey, PasskeyModel, WebAuthnUserModel } from './passkey.model';
import { CHALLENGE_TTL_MS, challengeOf, issueChallenge, parseAssertion, takeChallenge } from './webauthn';

/** `extensions.reason` of a passkey response that did not prove anything. */
export const PASSKEY_INVALID = 'PASSKEY_INVALID';

/** What checking an assertion found: the passkey that signed it, or why not (for the log). */
type Assertion = { passkey: Passkey } | { failure: string; userId?: string };

/**
 * `beginPasskeySignIn`: request options with no allowed credentials (the authenticator offers the
 * passkeys it holds for this RP ID), so nothing about any account is asked or revealed.
 */
export async function beginSignIn({ config, client }: Caller): Promise<PublicKeyCredentialRequestOptionsJSON> {
  await limitAttempt(config, 'passkey', client.ip);
  const challenge = await issueChallenge('authentication');
  return generateAuthenticationOptions({
    rpID: config.webauthn.rpId,
    challenge: Buffer.from(challenge, 'base64url'),
    timeout: CHALLENGE_TTL_MS,
    userVerification: 'required',
    allowCredentials: [],
  });
}

/**
 * Checks a browser's assertion: its challenge (found from clientDataJSON, used up here), its
 * passkey and user handle, the signature with user verification, the origin and RP ID, and the
 * signature counter, which must grow when the authenticator keeps one: one that does not is a
 * cloned authenticator, refused and audited.
 */
export async function verifyAssertion(raw: unknown, caller: Caller): Promise<Assertion> {
  const response = parseAssertion(raw);
  if (!response) return { failure: 'not a WebAuthn assertion' };
  const challenge = challengeOf(response.response.clientDataJSON);
  if (!challenge || !(await takeChallenge(challenge, 'authentication')))
    return { failure: 'unknown, used or expired challenge' };
  const passkey = await PasskeyModel.findOne({ credentialId: response.id }).lean<Passkey>();
  if (!passkey) return { failure: 'unknown passkey' };
  const { userId } = passkey;
  // Usernameless (no allowCredentials): the user handle is how the passkey names its user, and must be there.
  const { userHandle } = response.response;
  if (!userHandle || !(await WebAuthnUserModel.exists({ _id: userId, handle: userHandle })))
    return { failure: 'user handle missing or not the passkey user', userId };
  const info = await checkSignature(response, challenge, passkey, caller);
  if (typeof info === 'string') return { failure: info, userId };
  const { newCounter } = info;
  const grew = newCounter > passkey.counter || (newCounter === 0 && passkey.counter === 0);
  const now = new Date();
  // Queued per passkey: FerretDB checks a conditional write's filter and writes in two steps.
  const updated =
    grew &&
    (await atomically(`passkey:${String(passkey._id)}`, () =>
      PasskeyModel.updateOne(
        { _id: passkey._id, counter: newCounter === 0 ? 0 : op({ $lt: newCounter }) },
        { $set: { counter: newCounter, lastUsedAt: now, backedUp: info.credentialBackedUp } },
      ),
    ));
  // matchedCount: two sign-ins in one millisecond write the same values, and modify nothing.
  if (!updated || updated.matchedCount !== 1) {
    audit(caller, PasswordlessEvent.PASSKEY_CLONE_SUSPECTED, {
      userId,
      details: { passkeyId: String(passkey._id), storedCounter: passkey.counter, presentedCounter: newCounter },
    });
    return { failure: 'signature counter did not grow', userId };
  }
  return { passkey: { ...passkey, counter: newCounter, lastUsedAt: now } };
}

async function checkSignature(
  response: AuthenticationResponseJSON,
  challenge: string,
  passkey: Passkey,
  { config }: Caller,
): Promise<VerifiedAuthenticationResponse['authenticationInfo'] | string> {
  try {
    const verified = await verifyAuthenticationResponse({
      response,
      expectedChallenge: challenge,
      expectedOrigin: [...config.webauthn.origins],
      expectedRPID: config.webauthn.rpId,
      // The counter is compared here afterwards (verifyAssertion), so a clone can be audited.
      credential: { id: passkey.credentialId, publicKey: Buffer.from(passkey.publicKey, 'base64url'), counter: 0 },
      requireUserVerification: true,
    });
    return verified.verified ? verified.authenticationInfo : 'signature did not verify';
  } catch (err) {
    return (err as Error).message;
  }
}

function passkeyInvalid(): UnauthenticatedError {
  return new UnauthenticatedError('The passkey could not be verified: start again with beginPasskeySignIn', {
    reason: PASSKEY_INVALID,
  });
}

/**
 * `finishPasskeySignIn`: a verified passkey with user verification is both factors at once, so
 * no TOTP code is asked; a disabled account is refused. The per-IP limit is counted where the
 * challenge is handed out (beginPasskeySignIn): each finish uses one up, so finishes are limited
 * with it, and one sign-in counts once.
 */
export async function finishSignIn(raw: unknown, caller: Caller): Promise<AuthResult> {
  const { config, logger } = caller;
  const assertion = await verifyAssertion(raw, caller);
  if ('failure' in assertion) {
    logger.info({ reason: assertion.failure }, 'passkey sign-in refused');
    audit(caller, AuthEvent.LOGIN_FAILED, { userId: assertion.userId ?? null, details: { via: 'passkey' } });
    throw passkeyInvalid();
  }
  const userId = assertion.passkey.userId;
  const user = await UserModel.findById(userId).lean<User>();
  if (!user) throw passkeyInvalid();
  if (user.disabled) throw accountDisabled();
  if (config.account.requireEmailVerification && !user.emailVerified) throw emailNotVerified();
  audit(caller, AuthEvent.LOGIN_SUCCEEDED, { userId, details: { via: 'passkey' } });
  return startSession(user, caller);
}

/**
 * reauthenticate's passkey proof: an assertion (to a beginPasskeySignIn challenge) by one of the
 * caller's own passkeys, under the sign-in lockout like a password.
 */
export async function provePasskey(account: User, raw: unknown, caller: Caller): Promise<boolean> {
  const userId = String(account._id);
  const proven = await proveCodeUnderLockout(account, caller, 'reauthenticate', async () => {
    const assertion = await verifyAssertion(raw, caller);
    return 'passkey' in assertion && assertion.passkey.userId === userId ? true : null;
  });
  return proven === true;
}
