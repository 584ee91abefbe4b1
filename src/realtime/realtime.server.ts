import type { IncomingMessage, Server } from 'node:http';
import type { GraphQLSchema, ValidationRule } from 'graphql';
import { handleProtocols, makeServer } from 'graphql-ws';
import proxyaddr from 'proxy-addr';
import { WebSocketServer } from 'ws';
import type { Authenticator } from '../auth/auth.context';
import type { Config } from '../core/config';
import type { Logger } from '../core/logger';
import type { DocumentChecks } from '../http/document-checks';
import type { ContextFactory } from '../http/graphql-context';
import { upgradeClientInfo, type TrustProxy } from '../http/http';
import type { EventBus } from '../infra/events';
import { UnauthenticatedSockets, upgradeListener } from './realtime.admission';
import { Close, ConnectionRegistry } from './realtime.connection';
import { ItemEventFeed } from './realtime.feed';
import { connectionInit } from './realtime.handshake';
import { serveSocket, type SocketExtra } from './realtime.socket';
import { subscriptionHandling } from './realtime.subscribe';

export interface RealtimeOptions {
  config: Config;
  logger: Logger;
  schema: GraphQLSchema;
  httpServer: Server;
  bus: EventBus;
  authenticate: Authenticator;
  /** The document checks of HTTP requests (trusted documents, token limit). */
  documents: DocumentChecks;
  /** The context factory of HTTP requests. */
  buildContext: ContextFactory;
  /** The same graphql-armor rules HTTP requests are validated with (depth, aliases, directives). */
  validationRules: readonly ValidationRule[];
  /** Express's compiled `trust proxy`, so the client address is read as for HTTP requests. */
  trustProxy: TrustProxy;
}

export interface RealtimeServer {
  readonly connections: number;
  /** Refuses new sockets (503 at the upgrade) while the open ones keep being served. */
  drain(): void;
  /** Refuses new sockets and closes the open ones with 1001 ("going away"). */
  close(): Promise<void>;
}

/** Closes every socket with 1001 ("going away"); clients reconnect elsewhere. */
async function closeSockets(wss: WebSocketServer): Promise<void> {
  for (const socket of wss.clients) socket.close(Close.GOING_AWAY, 'SERVER_SHUTTING_DOWN');
  // Clients answer the close frame at once; one that does not is cut off.
  const deadline = Date.now() + 2000;
  while (wss.clients.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  for (const socket of wss.clients) socket.terminate();
  await new Promise<void>((resolve) => wss.close(() => resolve()));
}

/**
 * GraphQL subscriptions over the graphql-ws protocol on the HTTP server's `/graphql`, next to
 * Apollo's HTTP endpoint. graphql-ws (makeServer) speaks the protocol; this module owns the
 * socket: the Origin check and the caps on sockets not yet signed in at the upgrade
 * (realtime.admission.ts), authentication in connection_init (realtime.handshake.ts), the same
 * document checks and context as HTTP (realtime.subscribe.ts), per-connection and per-user
 * limits, keep-alive and backpressure (realtime.socket.ts).
 */
export function startRealtime(options: RealtimeOptions): RealtimeServer {
  const { config, logger, schema, bus, trustProxy } = options;
  const limits = config.realtime;
  const feed = new ItemEventFeed(bus, logger);
  const registry = new ConnectionRegistry(bus, limits);
  const unauthenticated = new UnauthenticatedSockets(limits);
  const wss = new WebSocketServer({ noServer: true, maxPayload: limits.maxMessageBytes, handleProtocols });
  const clientOf = (request: IncomingMessage) => upgradeClientInfo(request, trustProxy);
  const server = makeServer<Record<string, unknown>, SocketExtra>({
    schema,
    connectionInitWaitTimeout: limits.connectionInitTimeoutMs,
    onConnect: connectionInit({ limits, bus, authenticate: options.authenticate, registry, unauthenticated, clientOf }),
    ...subscriptionHandling({ ...options, feed }),
  });
  wss.on('connection', (socket, request) => serveSocket(server, registry, socket, request, { logger, limits }));
  let accepting = true;
  options.httpServer.on(
    'upgrade',
    upgradeListener({
      config,
      logger,
      unauthenticated,
      ipOf: (request) => proxyaddr(request, trustProxy),
      accepting: () => accepting,
      accept: (request, socket, head) =>
        wss.handleUpgrade(request, socket, head, (ws) => wss.emit('connection', ws, request)),
    }),
  );
  const offStatus = bus.onStatus((up) => {
    if (!up) registry.closeAll(Close.TRY_AGAIN_LATER, 'EVENTS_UNAVAILABLE');
  });
  return {
    get connections() {
      return wss.clients.size;
    },
    drain() {
      accepting = false;
    },
    async close() {
      // The upgrade listener stays: until the HTTP server closes, a new upgrade gets a 503 there.
      // Without it, Node hands the upgrade to Express, and Apollo would answer it with a 400.
      accepting = false;
      offStatus();
      registry.stop();
      feed.close();
      await closeSockets(wss);
    },
  };
}
