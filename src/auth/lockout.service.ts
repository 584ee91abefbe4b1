import type { Config } from '../core/config';
import { atomically, op } from '../core/db';
import { isDuplicateKeyError, TooManyRequestsError } from '../core/errors';
import { LoginAttemptsModel } from './lockout.model';

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
  return atomically(`login:${email}`, () => reserve(config, email));
}

async function reserve(config: Pick<Config, 'login'>, email: string, tries = 3): Promise<AttemptSlot> {
  const { maxAttempts, lockSeconds } = config.login;
  const now = new Date();
  const resetAt = new Date(now.getTime() + lockSeconds * 1000);
  const slot = (count: number): AttemptSlot => ({ last: count >= maxAttempts });

  // A live window with a free slot.
  const counted = await LoginAttemptsModel.findOneAndUpdate(
    { _id: email, resetAt: op({ $gt: now }), count: op({ $lt: maxAttempts }) },
    { $inc: { count: 1 }, $set: { resetAt } },
    { returnDocument: 'after' },
  ).lean();
  if (counted) return slot(counted.count);
  // A window that ran out (failures forgotten, lock over): start again.
  const restarted = await LoginAttemptsModel.findOneAndUpdate(
    { _id: email, resetAt: op({ $lte: now }) },
    { $set: { count: 1, resetAt } },
    { returnDocument: 'after' },
  ).lean();
  if (restarted) return slot(1);
  try {
    await LoginAttemptsModel.create({ _id: email, count: 1, resetAt });
    return slot(1);
  } catch (err) {
    if (!isDuplicateKeyError(err)) throw err;
  }
  // The document exists: either every slot is taken (locked until it resets), or it changed
  // between the reads above (a concurrent write on MongoDB), in which case look again.
  const current = await LoginAttemptsModel.findById(email).lean();
  const locked = current && current.count >= maxAttempts && current.resetAt.getTime() > Date.now();
  if (!locked && tries > 1) return reserve(config, email, tries - 1);
  const wait = (current?.resetAt.getTime() ?? resetAt.getTime()) - Date.now();
  throw new TooManyRequestsError(Math.max(1, Math.ceil(wait / 1000)), 'Too many failed attempts, try again later');
}

/** A correct password: the failures counted so far are forgotten. */
export async function releaseAttempts(email: string): Promise<void> {
  await LoginAttemptsModel.deleteOne({ _id: email });
}

/** Clears a lockout (admin `unlockUser`). True when there was one to clear. */
export async function clearLockout(email: string): Promise<boolean> {
  const res = await LoginAttemptsModel.deleteOne({ _id: email });
  return res.deletedCount > 0;
}

export async function deleteExpiredAttempts(): Promise<number> {
  const res = await LoginAttemptsModel.deleteMany({ resetAt: op({ $lt: new Date() }) });
  return res.deletedCount;
}

/** Gives one slot back: the attempt could not be evaluated (e.g. the hashing queue was full). */
export async function returnAttempt(email: string): Promise<void> {
  await atomically(`login:${email}`, () =>
    LoginAttemptsModel.updateOne({ _id: email, count: op({ $gt: 0 }) }, { $inc: { count: -1 } }),
  );
}
