import type { Config } from '../core/config';
import type { Caller } from '../core/context';
import type { Logger } from '../core/logger';
import { atomically, op } from '../infra/db';
import { asTotpCode, decryptSecret, matchingStep, recoveryCodeHash } from './totp.crypto';
import { TotpCredential, TotpCredentialModel } from './totp.model';

/**
 * Checking a second factor, for sign-in (src/auth) and for the TOTP mutations. Nothing here
 * imports a feature: auth depends on this module, the TOTP service on auth.
 */

/** Which kind of code was accepted. */
export type SecondFactor = 'totp' | 'recovery';

const MAX_CODE_LENGTH = 64;

/** The per-user queue every compare-and-set on TOTP credentials goes through (FerretDB). */
export const totpKey = (userId: string) => `totp:${userId}`;

/** Users whose stored secret did not decrypt, logged once per process each. */
const undecryptable = new Set<string>();

/**
 * A stored secret that does not decrypt means the key changed (JWT_SECRET rotated without a
 * TOTP_ENCRYPTION_KEY): every code of that user is refused until an admin resets TOTP, so an
 * operator must hear of it. Once per user, so a user retrying does not flood the log.
 */
function reportUndecryptable(logger: Logger, userId: string, which: string): void {
  if (undecryptable.has(userId)) return;
  undecryptable.add(userId);
  logger.error(
    { userId, which },
    'stored TOTP secret does not decrypt: TOTP_ENCRYPTION_KEY (or JWT_SECRET without it) changed; codes are refused until resetUserTotp',
  );
}

/**
 * Accepts a code of the enabled secret once: its step must be later than the last accepted one,
 * and moving `lastStep` forward is a compare-and-set, so of two requests with one code exactly
 * one succeeds. Returns the credentials with the accepted step, or null.
 */
export function consumeTotp(userId: string, code: string, caller: Caller): Promise<TotpCredential | null> {
  return consume(userId, code, caller, { which: 'secret', dropOnMiss: false });
}

/**
 * The first code of a pending secret (confirmTotpSetup), as consumeTotp. `dropOnMiss` (this miss
 * used up the last attempt): a wrong code also deletes the pending secret it was checked against,
 * so guessing cannot go on after the lockout; setup starts again with the password.
 */
export function consumePendingTotp(
  userId: string,
  code: string,
  caller: Caller,
  { dropOnMiss }: { dropOnMiss: boolean },
): Promise<TotpCredential | null> {
  return consume(userId, code, caller, { which: 'pendingSecret', dropOnMiss });
}

/**
 * A miss against the pending secret: counted on the credential, and the secret dropped when the
 * lockout says this was the last attempt of its window or the misses reach LOGIN_MAX_ATTEMPTS in
 * all. Only the secret that was guessed at: one a new beginTotpSetup put in its place stays.
 */
async function missPending(config: Config, stored: TotpCredential, encrypted: string, dropOnMiss: boolean) {
  const filter = { _id: stored._id, pendingSecret: encrypted };
  const drop = dropOnMiss || (stored.pendingMisses ?? 0) + 1 >= config.login.maxAttempts;
  await TotpCredentialModel.updateOne(
    filter,
    drop ? { $set: { pendingSecret: null } } : { $inc: { pendingMisses: 1 } },
  );
}

function consume(
  userId: string,
  code: string,
  caller: Caller,
  { which, dropOnMiss }: { which: 'secret' | 'pendingSecret'; dropOnMiss: boolean },
): Promise<TotpCredential | null> {
  const { config } = caller;
  const digits = asTotpCode(code);
  if (!digits && !dropOnMiss) return Promise.resolve(null);
  return atomically(totpKey(userId), async () => {
    const stored = await TotpCredentialModel.findById(userId).lean<TotpCredential>();
    const encrypted = stored?.[which];
    if (!stored || !encrypted) return null;
    const secret = digits ? decryptSecret(config, userId, encrypted) : null;
    if (digits && !secret) reportUndecryptable(caller.logger, userId, which);
    const step = secret && digits ? matchingStep(secret, digits) : null;
    if (step === null || step <= stored.lastStep) {
      if (which === 'pendingSecret') await missPending(config, stored, encrypted, dropOnMiss);
      return null;
    }
    const res = await TotpCredentialModel.updateOne(
      { _id: userId, lastStep: stored.lastStep, [which]: encrypted },
      { $set: { lastStep: step } },
    );
    return res.modifiedCount === 1 ? { ...stored, lastStep: step } : null;
  });
}

/** Uses up one recovery code: true for exactly one of any number of requests presenting it. */
export function consumeRecoveryCode(config: Config, userId: string, code: string): Promise<boolean> {
  if (code.length > MAX_CODE_LENGTH) return Promise.resolve(false);
  const hash = recoveryCodeHash(config, userId, code);
  return atomically(totpKey(userId), async () => {
    const res = await TotpCredentialModel.updateOne(
      { _id: userId, secret: op({ $ne: null }), recoveryCodes: hash },
      { $pull: { recoveryCodes: hash } },
    );
    return res.modifiedCount === 1;
  });
}

/** A six-digit TOTP code or a recovery code of the enabled credentials; null when neither. */
export async function verifySecondFactor(userId: string, code: string, caller: Caller): Promise<SecondFactor | null> {
  if (asTotpCode(code)) return (await consumeTotp(userId, code, caller)) ? 'totp' : null;
  return (await consumeRecoveryCode(caller.config, userId, code)) ? 'recovery' : null;
}
