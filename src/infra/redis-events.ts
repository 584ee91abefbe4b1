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
  const listeners = new Set<(up: boolean) => void>();
  const options = { retryStrategy, lazyConnect: false, connectionName: 'graphql-api' };
  // A frozen Redis (no FIN, no RST) must not let publishes pile up: each gives up after a second.
  const publisher = new Redis(url, {
    ...options,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    commandTimeout: 1000,
  });
  const subscriber = new Redis(url, { ...options, autoResubscribe: true, maxRetriesPerRequest: null });
  let up = false;
  let closing = false;
  let failures = 0;
  let unlogged = 0;
  let lastLogged = 0;

  const setUp = (value: boolean) => {
    if (value === up) return;
    up = value;
    if (value) logger.info('event bus: connected to Redis');
    else logger.warn('event bus: Redis connection lost; real-time clients are asked to reconnect');
    for (const listener of [...listeners]) listener(value);
  };
  // Errors are reported through the status; without a listener ioredis would print them.
  publisher.on('error', () => undefined);
  subscriber.on('error', (err: Error) => logger.debug({ err }, 'event bus: Redis subscriber error'));
  // Up only once the channels are subscribed again: ioredis says `ready` before it resubscribes.
  subscriber.on('ready', () => {
    const channels = dispatcher.channels().map((c) => PREFIX + c);
    if (channels.length === 0) return setUp(true);
    subscriber.subscribe(...channels).then(
      () => setUp(true),
      (err: unknown) => logger.warn({ err }, 'event bus: could not subscribe again'),
    );
  });
  subscriber.on('close', () => setUp(false));
  // A connection that silently stopped answering (a partition, a frozen server) is dropped, so
  // it reconnects and subscribers are told, instead of waiting for TCP to notice in minutes.
  const heartbeat = setInterval(() => {
    if (subscriber.status !== 'ready') return;
    const timeout = setTimeout(() => {
      if (!closing) subscriber.disconnect(true);
    }, HEARTBEAT_TIMEOUT_MS);
    timeout.unref();
    subscriber.ping().then(
      () => clearTimeout(timeout),
      () => undefined,
    );
  }, HEARTBEAT_MS);
  heartbeat.unref();
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

  function failed(err: unknown, channel: string) {
    failures++;
    unlogged++;
    const now = Date.now();
    if (now - lastLogged < FAILURE_LOG_INTERVAL_MS) return;
    logger.error({ err, channel, failed: unlogged, failedTotal: failures }, 'event bus: could not publish to Redis');
    lastLogged = now;
    unlogged = 0;
  }

  return {
    kind: 'redis',
    get up() {
      return up;
    },
    get publishFailures() {
      return failures;
    },
    publish(channel, message) {
      publisher.publish(PREFIX + channel, JSON.stringify(message)).catch((err: unknown) => failed(err, channel));
    },
    subscribe(channel, handler) {
      const first = !dispatcher.channels().includes(channel);
      const unsubscribe = dispatcher.subscribe(channel, handler);
      // Subscribed for good: the channels are few and fixed, and ioredis resubscribes after a reconnect.
      if (first) subscriber.subscribe(PREFIX + channel).catch((err: unknown) => logger.warn({ err }, 'subscribe'));
      return unsubscribe;
    },
    onStatus(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    async close() {
      closing = true;
      clearInterval(heartbeat);
      listeners.clear();
      subscriber.removeAllListeners('close');
      // QUIT only on a live connection: while Redis is away, ioredis queues it behind the
      // subscriber's pending SUBSCRIBE and would wait for a Redis that may never come (a start
      // without Redis then hung on SIGTERM). There is nothing to flush then: just disconnect.
      const end = (client: Redis) =>
        client.status === 'ready'
          ? client.quit().then(
              () => undefined,
              () => client.disconnect(),
            )
          : client.disconnect();
      await Promise.all([end(publisher), end(subscriber)]);
    },
  };
}
