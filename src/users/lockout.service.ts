import type { Config } from '../core/config';
import { TooManyRequestsError } from '../core/errors';
import { countInWindow, deleteCounter, uncount } from '../infra/rate-limit';

/**
 * Password attempts per normalised email, whether or not an account has that email (so the
 * lockout cannot tell an attacker which emails exist), kept as `lockout:<email>` counters beside
 * the rate limits. The count is failures plus attempts still being checked; the window ends
 * (failures forgotten, a lock over) LOGIN_LOCK_SECONDS after the last attempt.
 */
const keyOf = (email: string) => `lockout:${email}`;

export interface AttemptSlot {
  /** True when this attempt took the last slot: if it fails, the email is locked. */
  readonly last: boolean;
}

/**
 * Takes one attempt slot for `email` before its password is compared, atomically in the
 * database, so however many requests arrive at once at most LOGIN_MAX_ATTEMPTS wrong passwords
 * are evaluated per lock window. Throws TOO_MANY_REQUESTS when no slot is free.
 * A failed attempt keeps its slot; `releaseAttempts` (a success) gives them all back.
 */
export async function reserveAttempt(config: Pick<Config, 'login'>, email: string): Promise<AttemptSlot> {
  const { maxAttempts, lockSeconds } = config.login;
  const slot = await countInWindow(keyOf(email), { windowSeconds: lockSeconds, cap: maxAttempts, sliding: true });
  if (!slot.counted) {
    const wait = Math.ceil((slot.resetAt.getTime() - Date.now()) / 1000);
    throw new TooManyRequestsError(Math.max(1, wait), 'Too many failed attempts, try again later');
  }
  return { last: slot.count >= maxAttempts };
}

/** A correct password: the failures counted so far are forgotten. */
export async function releaseAttempts(email: string): Promise<void> {
  await deleteCounter(keyOf(email));
}

/** Clears a lockout (admin `unlockUser`). True when there were failures to forget. */
export function clearLockout(email: string): Promise<boolean> {
  return deleteCounter(keyOf(email));
}

/** Gives one slot back: the attempt could not be evaluated (e.g. the hashing queue was full). */
export async function returnAttempt(email: string): Promise<void> {
  await uncount(keyOf(email));
}
