import { z } from 'zod';
import { int, section } from './section';

/** GraphQL subscriptions over WebSocket, and the event bus behind them. */
export const realtime = section(
  {
    REDIS_URL: z
      .string()
      .regex(/^rediss?:\/\/\S+$/, 'must be a redis:// or rediss:// URL')
      .optional(),
    WS_MAX_SUBSCRIPTIONS: int(1, 1000).default(20),
    WS_MAX_CONNECTIONS_PER_USER: int(1, 100_000).default(10),
    WS_MAX_MESSAGE_BYTES: int(1024, 10 * 1024 * 1024).default(100 * 1024),
    WS_MAX_BUFFERED_BYTES: int(1024, 1024 * 1024 * 1024).default(1024 * 1024),
    WS_MAX_QUEUED_EVENTS: int(1, 1_000_000).default(1000),
    WS_CONNECTION_INIT_TIMEOUT_MS: int(100, 60_000).default(10_000),
    WS_MAX_UNAUTHENTICATED_PER_IP: int(1, 100_000).default(50),
    WS_MAX_UNAUTHENTICATED: int(1, 1_000_000).default(1000),
    WS_KEEPALIVE_MS: int(0, 600_000).default(12_000),
    WS_AUTH_RECHECK_SECONDS: int(1, 30).default(15),
  },
  (v) => ({
    /** GraphQL subscriptions over WebSocket (src/realtime). */
    realtime: {
      /** Events go through Redis pub/sub when set (several instances); in-process otherwise. */
      redisUrl: v.REDIS_URL,
      maxSubscriptions: v.WS_MAX_SUBSCRIPTIONS,
      maxConnectionsPerUser: v.WS_MAX_CONNECTIONS_PER_USER,
      maxMessageBytes: v.WS_MAX_MESSAGE_BYTES,
      /** A socket whose unsent data passes this is a slow consumer and is disconnected. */
      maxBufferedBytes: v.WS_MAX_BUFFERED_BYTES,
      /** Events waiting for one subscription before its socket counts as a slow consumer. */
      maxQueuedEvents: v.WS_MAX_QUEUED_EVENTS,
      connectionInitTimeoutMs: v.WS_CONNECTION_INIT_TIMEOUT_MS,
      /** Sockets that have not finished connection_init, per client address (IPv6 per /64); past it the upgrade gets 429. */
      maxUnauthenticatedPerIp: v.WS_MAX_UNAUTHENTICATED_PER_IP,
      /** Sockets that have not finished connection_init, in all on this instance; past it the upgrade gets 429. */
      maxUnauthenticated: v.WS_MAX_UNAUTHENTICATED,
      /** Ping interval; a socket that does not answer within one interval is dropped. 0: off. */
      keepAliveMs: v.WS_KEEPALIVE_MS,
      /** How often each connection's credential is checked again even when nothing says so. */
      authRecheckSeconds: v.WS_AUTH_RECHECK_SECONDS,
    },
  }),
);
