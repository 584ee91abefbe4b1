import { getModelForClass, index, modelOptions, prop } from '@typegoose/typegoose';
import { clientKey } from './client-ip';
import type { Config } from './config';
import { atomically, op } from './db';
import { isDuplicateKeyError, TooManyRequestsError } from './errors';

/**
 * Fixed-window attempt counters kept in MongoDB, so every server instance shares them.
 * The key names the operation and who is counted: `login:ip:203.0.113.9`, `login:account:a@b.c`.
 */
@modelOptions({ schemaOptions: { collection: 'rate_limits', versionKey: false } })
// Serves the periodic cleanup (no TTL index: FerretDB has none).
@index({ resetAt: 1 })
class RateLimitCounter {
  @prop({ required: true, type: String })
  _id!: string;

  @prop({ required: true, type: Number })
  count!: number;

  @prop({ required: true, type: Date })
  resetAt!: Date;
}

export const RateLimitModel = getModelForClass(RateLimitCounter);

function hit(key: string, windowSeconds: number): Promise<{ count: number; resetAt: Date }> {
  return atomically(`rate:${key}`, () => countIn(key, windowSeconds));
}

async function countIn(key: string, windowSeconds: number, tries = 3): Promise<{ count: number; resetAt: Date }> {
  const now = new Date();
  const counted = await RateLimitModel.findOneAndUpdate(
    { _id: key, resetAt: op({ $gt: now }) },
    { $inc: { count: 1 } },
    { returnDocument: 'after' },
  ).lean<RateLimitCounter>();
  if (counted) return counted;
  // No live window: start one. Two requests racing here may both start it; at worst one
  // attempt goes uncounted, never a false refusal.
  try {
    const started = await RateLimitModel.findOneAndUpdate(
      { _id: key },
      { $set: { count: 1, resetAt: new Date(now.getTime() + windowSeconds * 1000) } },
      { upsert: true, returnDocument: 'after' },
    ).lean<RateLimitCounter>();
    return started!;
  } catch (err) {
    // Concurrent upserts of a new key: one inserts, the others see a duplicate key (FerretDB and
    // older MongoDB do not retry that themselves). The window exists now, so count in it.
    if (tries > 1 && isDuplicateKeyError(err)) return countIn(key, windowSeconds, tries - 1);
    throw err;
  }
}

/**
 * Counts one attempt at `operation` for the client's IP (IPv6: its /64) and, when known, for the account.
 * Every call counts, so aliased or repeated fields in one request are separate attempts.
 */
export async function limitAttempt(
  config: Pick<Config, 'rateLimit'>,
  operation: string,
  ip: string | undefined,
  account?: string,
): Promise<void> {
  const { windowSeconds, perIp, perAccount } = config.rateLimit;
  const checks: Array<Promise<{ count: number; resetAt: Date; max: number }>> = [];
  if (ip) checks.push(hit(`${operation}:ip:${clientKey(ip)}`, windowSeconds).then((r) => ({ ...r, max: perIp })));
  if (account)
    checks.push(hit(`${operation}:account:${account}`, windowSeconds).then((r) => ({ ...r, max: perAccount })));
  const over = (await Promise.all(checks)).filter((r) => r.count > r.max);
  if (over.length) {
    const wait = Math.max(...over.map((r) => r.resetAt.getTime() - Date.now()));
    throw new TooManyRequestsError(Math.max(1, Math.ceil(wait / 1000)));
  }
}

export async function deleteExpiredCounters(): Promise<number> {
  const res = await RateLimitModel.deleteMany({ resetAt: op({ $lt: new Date() }) });
  return res.deletedCount;
}

/**
 * Counts one hit on `key` (e.g. `itemWrite:user:<id>`) and refuses with TOO_MANY_REQUESTS once
 * more than `max` hits fall in the current window. For limits other than the auth attempts above.
 */
export async function limitKey(key: string, max: number, windowSeconds: number, message?: string): Promise<void> {
  const { count, resetAt } = await hit(key, windowSeconds);
  if (count > max) {
    throw new TooManyRequestsError(Math.max(1, Math.ceil((resetAt.getTime() - Date.now()) / 1000)), message);
  }
}
