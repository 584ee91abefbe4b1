import type { ApolloServerPlugin, GraphQLRequestListener } from '@apollo/server';
import type { Context } from '../core/context';
import type { Config } from '../core/config';
import { retryLater, TooManyRequestsError } from '../core/errors';
import type { Logger } from '../core/logger';
import { addHits, countRefusal } from '../infra/rate-limit';

/** How often a process adds the hits it counted to the shared windows. */
const FLUSH_MS = 250;
/** Windows written at once by one flush: the request path's own reads must not queue behind them. */
const WRITES_AT_ONCE = 8;

interface Window {
  /** Hits counted here and not yet sent to the shared window. */
  pending: number;
  /** Hits being added to the shared window right now. */
  inFlight: number;
  /** The shared window's count as of the last write (every instance's hits). */
  shared: number;
  resetAt: number;
}

/**
 * Fixed-window counts shared through the `rate_limits` counters, written behind: a hit is counted
 * in the process at once, and the hits of a key are added to its shared window in one increment
 * every FLUSH_MS (one flush at a time). A check sees the shared count as of the last write plus
 * this process's hits not yet in it (being written or waiting). For a limit far above one
 * interval's traffic, where a database write per request would cost more than the limit saves:
 * with k instances, a key can pass its limit by at most what the other k - 1 count in one interval
 * (more while the database is too slow to take the writes).
 */
export class DeferredWindowCounter {
  private readonly windows = new Map<string, Window>();
  /** Keys with pending hits: a flush looks at these only, however many keys are idle. */
  private readonly dirty = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> | undefined;
  private stopped = false;
  private lastSweep = Date.now();
  private lastWarning = 0;

  constructor(
    private readonly windowSeconds: number,
    private readonly logger: Logger,
  ) {}

  /** Counts one hit on `key`: the window's estimated count with it, and when the window ends. */
  hit(key: string): { count: number; resetAt: number } {
    const now = Date.now();
    let window = this.windows.get(key);
    if (!window || window.resetAt <= now) {
      window = { pending: 0, inFlight: 0, shared: 0, resetAt: now + this.windowSeconds * 1000 };
      this.windows.set(key, window);
    }
    window.pending++;
    this.dirty.add(key);
    this.schedule();
    return { count: window.shared + window.inFlight + window.pending, resetAt: window.resetAt };
  }

  /** Writes what is pending now (after any flush under way), for shutdown and tests. */
  async flush(): Promise<void> {
    while (this.flushing) await this.flushing;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.flushing = this.writePending().finally(() => {
      this.flushing = undefined;
      if (this.dirty.size > 0) this.schedule();
    });
    await this.flushing;
  }

  /** Writes what is pending and stops counting into the database (the server is stopping). */
  async stop(): Promise<void> {
    await this.flush();
    this.stopped = true;
    clearTimeout(this.timer);
  }

  private schedule(): void {
    if (this.stopped || this.timer || this.flushing) return;
    this.timer = setTimeout(() => void this.flush(), FLUSH_MS).unref();
  }

  private async writePending(): Promise<void> {
    const keys = [...this.dirty];
    this.dirty.clear();
    let failed = 0;
    for (let i = 0; i < keys.length; i += WRITES_AT_ONCE)
      await Promise.all(
        keys.slice(i, i + WRITES_AT_ONCE).map(async (key) => {
          if (!(await this.write(key))) failed++;
        }),
      );
    // While the database is away every flush fails: one warning a minute is enough.
    if (failed > 0 && Date.now() - this.lastWarning > 60_000) {
      this.lastWarning = Date.now();
      this.logger.warn({ keys: failed }, 'read limit: counts not written, kept for the next write');
    }
    this.sweep();
  }

  /** Forgets ended windows of keys not seen since, once a window length: memory stays with the active keys. */
  private sweep(): void {
    const now = Date.now();
    if (now - this.lastSweep < this.windowSeconds * 1000) return;
    this.lastSweep = now;
    for (const [key, window] of this.windows)
      if (window.resetAt <= now && window.pending === 0 && window.inFlight === 0) this.windows.delete(key);
  }

  /** Adds one key's pending hits to its shared window. False when the write failed (hits kept). */
  private async write(key: string): Promise<boolean> {
    const window = this.windows.get(key);
    if (!window) return true;
    // A window that ended with hits unwritten: they belong to no window any more.
    if (window.resetAt <= Date.now()) {
      this.windows.delete(key);
      return true;
    }
    const n = window.pending;
    window.pending = 0;
    window.inFlight += n;
    try {
      const { count, resetAt } = await addHits(key, this.windowSeconds, n);
      window.shared = count;
      window.resetAt = resetAt.getTime();
      return true;
    } catch (err) {
      window.pending += n;
      this.dirty.add(key);
      this.logger.debug({ err, key }, 'read limit: count not written');
      return false;
    } finally {
      window.inFlight -= n;
    }
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
    async serverWillStart() {
      // Apollo stops before the database disconnects (AppServer.stop): the last counts get written.
      return { serverWillStop: () => counter.stop() };
    },
    async requestDidStart() {
      return listener;
    },
  };
}
