import type { Config } from '../core/config';
import { atomically, op } from '../core/db';
import { isDuplicateKeyError, TooManyRequestsError } from '../core/errors';
import { RateLimitModel } from '../core/rate-limit';

/**
 * Password attempts per normalised email, whether or not an account has that email (so the
 * lockout cannot tell an attacker which emails exist), kept as `lockout:<email>` counters beside
 * the rate limits. `count` is failures plus attempts still being checked; `resetAt` is when they
 * are forgotten (and a lock ends): LOGIN_LOCK_SECONDS after the last attempt.
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
export function reserveAttempt(config: Pick<Config, 'login'>, email: string): Promise<AttemptSlot> {
  return atomically(keyOf(email), () => reserve(config, keyOf(email)));
}

async function reserve(config: Pick<Config, 'login'>, key: string, tries = 3): Promise<AttemptSlot> {
  const { maxAttempts, lockSeconds } = config.login;
  const now = new Date();
  const resetAt = new Date(now.getTime() + lockSeconds * 1000);
  const slot = (count: number): AttemptSlot => ({ last: count >= maxAttempts });

  // A live window with a free slot.
  const counted = await RateLimitModel.findOneAndUpdate(
    { _id: key, resetAt: op({ $gt: now }), count: op({ $lt: maxAttempts }) },
    { $inc: { count: 1 }, $set: { resetAt } },
    { returnDocument: 'after' },
  ).lean();
  if (counted) return slot(counted.count);
  // A window that ran out (failures forgotten, lock over): start again.
  const restarted = await RateLimitModel.findOneAndUpdate(
    { _id: key, resetAt: op({ $lte: now }) },
    { $set: { count: 1, resetAt } },
    { returnDocument: 'after' },
  ).lean();
  if (restarted) return slot(1);
  try {
    await RateLimitModel.create({ _id: key, count: 1, resetAt });
    return slot(1);
  } catch (err) {
    if (!isDuplicateKeyError(err)) throw err;
  }
  // The document exists: either every slot is taken (locked until it resets), or it changed
  // between the reads above (a concurrent write on MongoDB), in which case look again.
  const current = await RateLimitModel.findById(key).lean();
  const locked = current && current.count >= maxAttempts && current.resetAt.getTime() > Date.now();
  if (!locked && tries > 1) return reserve(config, key, tries - 1);
  const wait = (current?.resetAt.getTime() ?? resetAt.getTime()) - Date.now();
  throw new TooManyRequestsError(Math.max(1, Math.ceil(wait / 1000)), 'Too many failed attempts, try again later');
}

/** A correct password: the failures counted so far are forgotten. */
export async function releaseAttempts(email: string): Promise<void> {
  await RateLimitModel.deleteOne({ _id: keyOf(email) });
}

/** Clears a lockout (admin `unlockUser`). True when there was one to clear. */
export async function clearLockout(email: string): Promise<boolean> {
  const res = await RateLimitModel.deleteOne({ _id: keyOf(email) });
  return res.deletedCount > 0;
}

/** Gives one slot back: the attempt could not be evaluated (e.g. the hashing queue was full). */
export async function returnAttempt(email: string): Promise<void> {
  await atomically(keyOf(email), () =>
    RateLimitModel.updateOne({ _id: keyOf(email), count: op({ $gt: 0 }) }, { $inc: { count: -1 } }),
  );
}
