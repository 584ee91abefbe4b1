import { Redis } from 'ioredis';
import { Dispatcher, type EventBus } from './events';
import type { Logger } from '../core/logger';

/** Channel names are prefixed so that one Redis can serve other applications too. */
const PREFIX = 'graphql-api:';

/** At most one publish-failure line per this many milliseconds, with the count since the last. */
const FAILURE_LOG_INTERVAL_MS = 10_000;

/** How often the subscribed connection proves it is alive, and how long a PING may take. */
const HEARTBEAT_MS = 5000;
const HEARTBEAT_TIMEOUT_MS = 3000;

/** Reconnect delays: quick at first, then every 2 s for as long as Redis stays away. */
const retryStrategy = (attempt: number) => Math.min(100 * attempt, 2000);

/**
 * Redis pub/sub through two connections (a subscribed connection can do nothing else). The
 * publisher has no offline queue: while Redis is away a publish fails at once, is logged and
 * counted, and is not replayed later as a stale event. The subscriber reconnects and subscribes
 * again on its own; `up` follows it, so the real-time server can close its sockets with a
 * retryable code while messages cannot arrive.
 */
export function redisEventBus(url: string, logger: Logger): EventBus {
  const dispatcher = new Dispatcher();
  const { publisher, subscriber } = connect(url);
  const status = new BusStatus(logger);
  const failures = new PublishFailures(logger);
  let closing = false;

  // Errors are reported through the status; without a listener ioredis would print them.
  publisher.on('error', () => undefined);
  followSubscriber(subscriber, dispatcher, status, logger);
  const heartbeat = startHeartbeat(subscriber, () => closing);
  dispatchMessages(subscriber, dispatcher, logger);

  return {
    kind: 'redis',
    get up() {
      return status.up;
    },
    get publishFailures() {
      return failures.total;
    },
    publish(channel, message) {
      publisher
        .publish(PREFIX + channel, JSON.stringify(message))
        .catch((err: unknown) => failures.record(err, channel));
    },
    subscribe(channel, handler) {
      const first = !dispatcher.channels().includes(channel);
      const unsubscribe = dispatcher.subscribe(channel, handler);
      // Subscribed for good: the channels are few and fixed, and ioredis resubscribes after a reconnect.
      if (first) subscriber.subscribe(PREFIX + channel).catch((err: unknown) => logger.warn({ err }, 'subscribe'));
      return unsubscribe;
    },
    onStatus: (listener) => status.listen(listener),
    async close() {
      closing = true;
      clearInterval(heartbeat);
      status.clear();
      subscriber.removeAllListeners('close');
      await Promise.all([end(publisher), end(subscriber)]);
    },
  };
}

/** The publishing and the subscribed connection. */
function connect(url: string): { publisher: Redis; subscriber: Redis } {
  const options = { retryStrategy, lazyConnect: false, connectionName: 'graphql-api' };
  // A frozen Redis (no FIN, no RST) must not let publishes pile up: each gives up after a second.
  const publisher = new Redis(url, {
    ...options,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    commandTimeout: 1000,
  });
  const subscriber = new Redis(url, { ...options, autoResubscribe: true, maxRetriesPerRequest: null });
  return { publisher, subscriber };
}

/** Whether the bus can deliver, logged and told to the listeners at each change. */
class BusStatus {
  private readonly listeners = new Set<(up: boolean) => void>();
  private current = false;

  constructor(private readonly logger: Logger) {}

  get up(): boolean {
    return this.current;
  }

  set(value: boolean): void {
    if (value === this.current) return;
    this.current = value;
    if (value) this.logger.info('event bus: connected to Redis');
    else this.logger.warn('event bus: Redis connection lost; real-time clients are asked to reconnect');
    for (const listener of [...this.listeners]) listener(value);
  }

  listen(listener: (up: boolean) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  clear(): void {
    this.listeners.clear();
  }
}

/** Counts the publishes that failed; logs them at most once per FAILURE_LOG_INTERVAL_MS. */
class PublishFailures {
  private count = 0;
  private unlogged = 0;
  private lastLogged = 0;

  constructor(private readonly logger: Logger) {}

  get total(): number {
    return this.count;
  }

  record(err: unknown, channel: string): void {
    this.count++;
    this.unlogged++;
    const now = Date.now();
    if (now - this.lastLogged < FAILURE_LOG_INTERVAL_MS) return;
    this.logger.error(
      { err, channel, failed: this.unlogged, failedTotal: this.total },
      'event bus: could not publish to Redis',
    );
    this.lastLogged = now;
    this.unlogged = 0;
  }
}

/** Keeps `status` on the subscribed connection: up once it is ready and subscribed, down when it closes. */
function followSubscriber(subscriber: Redis, dispatcher: Dispatcher, status: BusStatus, logger: Logger): void {
  subscriber.on('error', (err: Error) => logger.debug({ err }, 'event bus: Redis subscriber error'));
  // Up only once the channels are subscribed again: ioredis says `ready` before it resubscribes.
  subscriber.on('ready', () => {
    const channels = dispatcher.channels().map((c) => PREFIX + c);
    if (channels.length === 0) return status.set(true);
    subscriber.subscribe(...channels).then(
      () => status.set(true),
      (err: unknown) => logger.warn({ err }, 'event bus: could not subscribe again'),
    );
  });
  subscriber.on('close', () => status.set(false));
}

/**
 * A connection that silently stopped answering (a partition, a frozen server) is dropped, so
 * it reconnects and subscribers are told, instead of waiting for TCP to notice in minutes.
 */
function startHeartbeat(subscriber: Redis, closing: () => boolean): NodeJS.Timeout {
  const heartbeat = setInterval(() => {
    if (subscriber.status !== 'ready') return;
    const timeout = setTimeout(() => {
      if (!closing()) subscriber.disconnect(true);
    }, HEARTBEAT_TIMEOUT_MS);
    timeout.unref();
    subscriber.ping().then(
      () => clearTimeout(timeout),
      () => undefined,
    );
  }, HEARTBEAT_MS);
  heartbeat.unref();
  return heartbeat;
}

/** Hands each message of this application's channels, parsed, to the handlers in this process. */
function dispatchMessages(subscriber: Redis, dispatcher: Dispatcher, logger: Logger): void {
  subscriber.on('message', (channel: string, raw: string) => {
    if (!channel.startsWith(PREFIX)) return;
    let message: unknown;
    try {
      message = JSON.parse(raw);
    } catch {
      logger.warn({ channel }, 'event bus: ignored a message that is not JSON');
      return;
    }
    dispatcher.dispatch(channel.slice(PREFIX.length), message, (err) =>
      logger.error({ err, channel }, 'event bus: a subscriber failed'),
    );
  });
}

/**
 * QUIT only on a live connection: while Redis is away, ioredis queues it behind the
 * subscriber's pending SUBSCRIBE and would wait for a Redis that may never come (a start
 * without Redis then hung on SIGTERM). There is nothing to flush then: just disconnect.
 */
function end(client: Redis): Promise<void> | void {
  return client.status === 'ready'
    ? client.quit().then(
        () => undefined,
        () => client.disconnect(),
      )
    : client.disconnect();
}
