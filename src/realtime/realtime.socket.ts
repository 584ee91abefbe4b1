import { randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Context as WsContext, Server as ProtocolServer, WebSocket as ProtocolSocket } from 'graphql-ws';
import type { WebSocket } from 'ws';
import type { Config } from '../core/config';
import type { Logger } from '../core/logger';
import { Close, type ConnectionRegistry, type RealtimeConnection } from './realtime.connection';

/** What graphql-ws carries for each socket (its `ctx.extra`). */
export interface SocketExtra {
  socket: WebSocket;
  /** The upgrade request; its `log` is the connection's logger. */
  request: IncomingMessage;
  /** The signed-in caller, once connection_init was accepted. */
  connection?: RealtimeConnection;
  logger: Logger;
}

/** graphql-ws's context of one socket: its connection_init payload and our extra. */
export type SocketContext = WsContext<Record<string, unknown>, SocketExtra>;

type Limits = Pick<Config['realtime'], 'keepAliveMs' | 'maxBufferedBytes'>;

/** Disconnects a socket whose client does not read what it is sent. */
export function slowConsumer(extra: SocketExtra): void {
  const { socket } = extra;
  if (socket.readyState !== socket.OPEN) return;
  extra.logger.warn({ buffered: socket.bufferedAmount }, 'realtime: slow consumer disconnected');
  extra.connection?.close(Close.TRY_AGAIN_LATER, 'SLOW_CONSUMER');
  if (!extra.connection) socket.close(Close.TRY_AGAIN_LATER, 'SLOW_CONSUMER');
  // A consumer that does not read will not read the close frame either.
  setTimeout(() => socket.terminate(), 1000).unref();
}

/** Pings every `intervalMs`; a peer that did not answer the last ping is gone without a close. */
function keepAlive(socket: WebSocket, intervalMs: number): NodeJS.Timeout | undefined {
  if (intervalMs <= 0) return undefined;
  let alive = true;
  socket.on('pong', () => (alive = true));
  return setInterval(() => {
    if (!alive) return socket.terminate();
    alive = false;
    socket.ping();
  }, intervalMs).unref();
}

/** The socket as graphql-ws drives it: a send to a closed socket is dropped, one over the backlog cap disconnects. */
function protocolSocket(extra: SocketExtra, maxBufferedBytes: number): ProtocolSocket {
  const { socket } = extra;
  return {
    protocol: socket.protocol,
    send: (data) =>
      new Promise<void>((resolve, reject) => {
        if (socket.readyState !== socket.OPEN) return resolve();
        if (socket.bufferedAmount > maxBufferedBytes) {
          slowConsumer(extra);
          return resolve();
        }
        socket.send(data, (err) => (err ? reject(err) : resolve()));
      }),
    close: (code, reason) => {
      if (socket.readyState === socket.OPEN || socket.readyState === socket.CONNECTING) socket.close(code, reason);
    },
    onMessage: (cb) =>
      socket.on('message', (data: Buffer) => {
        cb(data.toString()).catch((err: unknown) => {
          extra.logger.error({ err }, 'realtime: message handling failed');
          socket.close(Close.INTERNAL, 'INTERNAL_SERVER_ERROR');
        });
      }),
  };
}

/**
 * Serves one accepted WebSocket with graphql-ws until it closes: keep-alive, backpressure, and
 * on close the end of its connection (its subscriptions, its place in the registry).
 */
export function serveSocket(
  server: ProtocolServer<SocketExtra>,
  registry: ConnectionRegistry,
  socket: WebSocket,
  request: IncomingMessage,
  options: { logger: Logger; limits: Limits },
): void {
  const logger = options.logger.child({ ws: randomBytes(6).toString('base64url') });
  // As an HTTP request carries its own: the operation contexts of this socket log with it.
  request.log = logger;
  const extra: SocketExtra = { socket, request, logger };
  const pings = keepAlive(socket, options.limits.keepAliveMs);
  const closed = server.opened(protocolSocket(extra, options.limits.maxBufferedBytes), extra);
  socket.on('error', (err) => extra.logger.debug({ err }, 'realtime: socket error'));
  socket.once('close', (code: number, reason: Buffer) => {
    clearInterval(pings);
    if (extra.connection) {
      extra.connection.dispose();
      registry.remove(extra.connection);
    }
    void closed(code, reason.toString());
  });
}
