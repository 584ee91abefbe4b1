import { getModelForClass, index, modelOptions, prop } from '@typegoose/typegoose';
import { clientKey } from '../core/client-ip';
import type { Config } from '../core/config';
import { atomically, batched, op } from './db';
import { isDuplicateKeyError, TooManyRequestsError } from '../core/errors';
// A leaf module (no project imports): the counters of the running server, if metrics are on.
import { currentMetrics } from '../observability/metrics.registry';

/**
 * Every rate limit by name: the first part of its counters' keys and its `rate_limited_total`
 * label (metrics start each at zero). Counting under another name does not compile.
 */
export const RATE_LIMITS = [
  'login',
  'register',
  'changePassword',
  'refreshToken',
  'oauth',
  'requestPasswordReset',
  'linkMail',
  'passkey',
  'signInCode',
  'reauthenticate',
  'oidc',
  'apiKey',
  'itemWrite',
  'read',
  'invitation',
] as const;
export type RateLimitName = (typeof RATE_LIMITS)[number];

/** Counts one refusal by `limit` in `rate_limited_total`, when metrics are on. */
export function countRefusal(limit: RateLimitName): void {
  currentMetrics()?.rateLimited.inc({ limit });
}

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

export interface WindowCount {
  /** False when the window was at its cap: nothing was counted. */
  counted: boolean;
  count: number;
  resetAt: Date;
}

export interface WindowOptions {
  windowSeconds: number;
  /** Count only while the window holds fewer than this; at the cap nothing is counted. */
  cap?: number;
  /** Every counted hit moves the window's end: hits are forgotten `windowSeconds` after the last. */
  sliding?: boolean;
}

/**
 * Counts one hit on `key` in a window kept in MongoDB, atomic on MongoDB with any number of
 * instances: an increment of a live window, else a conditional restart of an expired one, else
 * an insert (a duplicate means another request started it: count in it). A live window is never
 * reset. On FerretDB, whose findAndModify is read-then-write, the writes to one key are queued.
 */
export function countInWindow(key: string, options: WindowOptions): Promise<WindowCount> {
  // A plain count (no cap, fixed window): concurrent hits on one key count as one increment of n.
  if (options.cap === undefined && !options.sliding)
    return batched(`rate:${key}`, async (n) => {
      const { count, resetAt } = await countIn(key, options, 5, n);
      return Array.from({ length: n }, (_, i) => ({ counted: true, count: count - (n - 1 - i), resetAt }));
    });
  return atomically(`rate:${key}`, () => countIn(key, options));
}

/** Counts `n` hits (n > 1 only without a cap); the count returned is the window's after all n. */
async function countIn(key: string, options: WindowOptions, tries = 5, n = 1): Promise<WindowCount> {
  const { windowSeconds, cap, sliding } = options;
  const now = new Date();
  const resetAt = new Date(now.getTime() + windowSeconds * 1000);
  const live = await RateLimitModel.findOneAndUpdate(
    { _id: key, resetAt: op({ $gt: now }), ...(cap === undefined ? {} : { count: op({ $lt: cap }) }) },
    { $inc: { count: n }, ...(sliding ? { $set: { resetAt } } : {}) },
    { returnDocument: 'after' },
  ).lean<RateLimitCounter>();
  if (live) return { counted: true, count: live.count, resetAt: live.resetAt };
  const restarted = await RateLimitModel.findOneAndUpdate(
    { _id: key, resetAt: op({ $lte: now }) },
    { $set: { count: n, resetAt } },
    { returnDocument: 'after' },
  ).lean<RateLimitCounter>();
  if (restarted) return { counted: true, count: n, resetAt };
  try {
    await RateLimitModel.create({ _id: key, count: n, resetAt });
    return { counted: true, count: n, resetAt };
  } catch (err) {
    if (!isDuplicateKeyError(err)) throw err;
  }
  // The window exists: at its cap, or it changed between the steps above (another instance).
  const current = await RateLimitModel.findById(key).lean<RateLimitCounter>();
  const full = current && cap !== undefined && current.count >= cap && current.resetAt.getTime() > Date.now();
  if (full) return { counted: false, count: current.count, resetAt: current.resetAt };
  if (tries > 1) return countIn(key, options, tries - 1, n);
  // Still racing after several tries: a capped window refuses, a plain count lets this one pass.
  return { counted: cap === undefined, count: current?.count ?? n, resetAt: current?.resetAt ?? resetAt };
}

/** Takes one hit back (it could not be evaluated), never below zero. */
export function uncount(key: string): Promise<unknown> {
  return atomically(`rate:${key}`, () =>
    RateLimitModel.updateOne({ _id: key, count: op({ $gt: 0 }) }, { $inc: { count: -1 } }),
  );
}

/** Forgets a window. True when there was one. */
export function deleteCounter(key: string): Promise<boolean> {
  return atomically(`rate:${key}`, async () => (await RateLimitModel.deleteOne({ _id: key })).deletedCount > 0);
}

/** Adds `n` hits to a plain fixed window at once (a count kept in a process, written behind). */
export function addHits(key: string, windowSeconds: number, n: number): Promise<WindowCount> {
  return atomically(`rate:${key}`, () => countIn(key, { windowSeconds }, 5, n));
}

function hit(key: string, windowSeconds: number): Promise<WindowCount> {
  return countInWindow(key, { windowSeconds });
}

/**
 * Counts one attempt at `operation` for the client's IP (IPv6: its /64) and, when known, for the account.
 * Every call counts, so aliased or repeated fields in one request are separate attempts.
 */
export async function limitAttempt(
  config: Pick<Config, 'rateLimit'>,
  operation: RateLimitName,
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
    countRefusal(operation);
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
export async function limitKey(
  key: `${RateLimitName}:${string}`,
  max: number,
  windowSeconds: number,
  message?: string,
): Promise<void> {
  const { count, resetAt } = await hit(key, windowSeconds);
  if (count > max) {
    // The key's first part names the limit (`itemWrite`); the rest (a user id) never becomes a label.
    countRefusal(key.split(':', 1)[0] as RateLimitName);
    throw new TooManyRequestsError(Math.max(1, Math.ceil((resetAt.getTime() - Date.now()) / 1000)), message);
  }
}
