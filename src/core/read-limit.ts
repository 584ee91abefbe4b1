import type { ApolloServerPlugin, GraphQLRequestListener } from '@apollo/server';
import type { Context } from '../context';
import type { Config } from './config';
import { retryLater, TooManyRequestsError } from './errors';
import type { Logger } from './logger';
import { addHits, countRefusal } from './rate-limit';

/** How often a process adds the hits it counted to the shared windows. */
const FLUSH_MS = 250;

interface Window {
  /** Hits counted here and not yet added to the shared window. */
  pending: number;
  /** The shared window's count as of the last write (every instance's hits). */
  shared: number;
  resetAt: number;
}

/**
 * Fixed-window counts shared through the `rate_limits` counters, written behind: a hit is counted
 * in the process at once and added to the shared window with the others of its key in one
 * increment every FLUSH_MS. A check sees the shared count as of the last write plus this
 * process's unwritten hits. For a limit far above one interval's traffic, where a database write
 * per request would cost more than the limit saves: with k instances, a key can pass its limit
 * by at most what the other k - 1 count in one interval.
 */
export class DeferredWindowCounter {
  private readonly windows = new Map<string, Window>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly windowSeconds: number,
    private readonly logger: Logger,
  ) {}

  /** Counts one hit on `key`: the window's estimated count with it, and when the window ends. */
  hit(key: string): { count: number; resetAt: number } {
    const now = Date.now();
    let window = this.windows.get(key);
    if (!window || window.resetAt <= now) {
      window = { pending: 0, shared: 0, resetAt: now + this.windowSeconds * 1000 };
      this.windows.set(key, window);
    }
    window.pending++;
    this.timer ??= setTimeout(() => void this.flush(), FLUSH_MS).unref();
    return { count: window.shared + window.pending, resetAt: window.resetAt };
  }

  /** Adds every key's unwritten hits to its shared window (one increment per key). */
  async flush(): Promise<void> {
    this.timer = undefined;
    const now = Date.now();
    await Promise.all(
      [...this.windows].map(async ([key, window]) => {
        if (window.pending === 0) {
          if (window.resetAt <= now) this.windows.delete(key);
          return;
        }
        const n = window.pending;
        window.pending -= n;
        try {
          const { count, resetAt } = await addHits(key, this.windowSeconds, n);
          // Every instance's hits, ours included; those counted here since are still pending.
          window.shared = count;
          window.resetAt = resetAt.getTime();
        } catch (err) {
          // Kept for the next write, which the next hit schedules (none after a shutdown).
          window.pending += n;
          this.logger.warn({ err }, 'read limit: counts not written, kept for the next write');
        }
      }),
    );
  }
}

/**
 * The per-user read limit: every query operation a signed-in caller sends over HTTP counts once,
 * whatever it asks for (its cost is bounded by MAX_COST), under `read:user:<id>`. An API key
 * counts for its owner, so a user's keys and sessions share one allowance (creating keys does
 * not multiply it). Past `readsPerUser` in the window: 429 TOO_MANY_REQUESTS with Retry-After,
 * before anything runs. Counted in the process and written behind (DeferredWindowCounter): no
 * database round trip on the request path. Mutations have their own limits; anonymous queries
 * are not counted.
 */
export function readLimitPlugin(config: Pick<Config, 'rateLimit'>, logger: Logger): ApolloServerPlugin<Context> {
  const { windowSeconds, readsPerUser } = config.rateLimit;
  const counter = new DeferredWindowCounter(windowSeconds, logger);
  const listener: GraphQLRequestListener<Context> = {
    async didResolveOperation({ operation, contextValue }) {
      const { user } = contextValue;
      if (operation?.operation !== 'query' || !user) return;
      const { count, resetAt } = counter.hit(`read:user:${user.id}`);
      if (count <= readsPerUser) return;
      countRefusal('read');
      // Thrown here, an error is a 500 unless it carries its status.
      const wait = Math.max(1, Math.ceil((resetAt - Date.now()) / 1000));
      throw retryLater(new TooManyRequestsError(wait, 'Too many requests, try again later'));
    },
  };
  return {
    async requestDidStart() {
      return listener;
    },
  };
}
