import { randomBytes } from 'node:crypto';
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Request, Response } from 'express';
import {
  getOperationAST,
  GraphQLError,
  parse,
  specifiedRules,
  validate,
  type DocumentNode,
  type ExecutionResult,
  type GraphQLFormattedError,
  type GraphQLSchema,
  type ValidationRule,
} from 'graphql';
import { handleProtocols, makeServer, type Context as WsContext } from 'graphql-ws';
import proxyaddr from 'proxy-addr';
import { WebSocketServer, type WebSocket } from 'ws';
import type { Authenticator } from '../auth/auth.context';
import type { Context } from '../core/context';
import type { ClientInfo } from '../auth/sign-in';
import { costRefusal } from '../http/complexity';
import type { Config } from '../core/config';
import { isDatabaseUnavailable, isQueryTimeout } from '../core/errors';
import type { EventBus } from '../infra/events';
import { formatError } from '../http/format-error';
import type { Logger } from '../core/logger';
import { originAllowed } from '../http/security';
import type { DocumentPolicy } from '../http/trusted-documents';
import { UnauthenticatedSockets } from './realtime.admission';
import { Close, ConnectionRegistry, RealtimeConnection } from './realtime.connection';
import { ItemEventFeed } from './realtime.feed';
import { rememberText, subscribeShared } from './realtime.execution';
import { bindToSocket, subscriptionLimit } from './realtime.stream';

const PATH = '/graphql';

export interface RealtimeOptions {
  config: Config;
  logger: Logger;
  schema: GraphQLSchema;
  httpServer: Server;
  bus: EventBus;
  authenticate: Authenticator;
  documents: DocumentPolicy;
  /** The same graphql-armor rules HTTP requests are validated with (depth, aliases, directives). */
  validationRules: readonly ValidationRule[];
  /** Express's compiled `trust proxy`, so the client address is read as for HTTP requests. */
  trustProxy: (addr: string, i: number) => boolean;
}

export interface RealtimeServer {
  readonly connections: number;
  /** Refuses new sockets (503 at the upgrade) while the open ones keep being served. */
  drain(): void;
  /** Refuses new sockets and closes the open ones with 1001 ("going away"). */
  close(): Promise<void>;
}

interface Extra {
  socket: WebSocket;
  request: IncomingMessage;
  connection?: RealtimeConnection;
  logger: Logger;
}

/** Refuses an upgrade with a plain HTTP answer (the socket is not a WebSocket yet). */
function refuseUpgrade(socket: Duplex, status: number, text: string, headers = ''): void {
  socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Length: 0\r\n${headers}\r\n`);
}

function clientError(code: string, message: string): GraphQLError {
  return new GraphQLError(message, { extensions: { code } });
}

/** The credential a client sends in connection_init: `{ authorization: "Bearer …" }` (any case). */
function authorizationOf(params: Readonly<Record<string, unknown>> | undefined): string | undefined {
  if (!params) return undefined;
  for (const [key, value] of Object.entries(params)) {
    if (key.toLowerCase() === 'authorization' && typeof value === 'string') return value;
  }
  return undefined;
}

/**
 * GraphQL subscriptions over the graphql-ws protocol on the HTTP server's `/graphql`, next to
 * Apollo's HTTP endpoint. graphql-ws (makeServer) speaks the protocol; this module owns the
 * socket: the Origin check and the caps on sockets not yet signed in (realtime.admission.ts) at
 * the upgrade, authentication in connection_init, the same document limits as HTTP,
 * per-connection and per-user limits, keep-alive and backpressure.
 */
export function startRealtime(options: RealtimeOptions): RealtimeServer {
  const { config, logger, schema, httpServer, bus, authenticate, documents } = options;
  const limits = config.realtime;
  const format = formatError(config);
  const rules = [...specifiedRules, ...options.validationRules];
  const feed = new ItemEventFeed(bus, logger);
  const registry = new ConnectionRegistry(bus, limits);
  const unauthenticated = new UnauthenticatedSockets(limits);
  const wss = new WebSocketServer({ noServer: true, maxPayload: limits.maxMessageBytes, handleProtocols });
  let accepting = true;

  const formatted = (errors: readonly GraphQLError[]): GraphQLFormattedError[] =>
    errors.map((err) => format(err.toJSON(), err));

  const refuse = (ctx: WsContext<Record<string, unknown>, Extra>, code: number, reason: string) => {
    ctx.extra.logger.debug({ code, reason }, 'realtime: connection refused');
    ctx.extra.socket.close(code, reason);
    return false;
  };

  function clientInfo(request: IncomingMessage): ClientInfo {
    return { ip: proxyaddr(request, options.trustProxy), userAgent: request.headers['user-agent'] ?? null };
  }

  async function onConnect(ctx: WsContext<Record<string, unknown>, Extra>): Promise<boolean> {
    const { extra } = ctx;
    const header = authorizationOf(ctx.connectionParams);
    if (header === undefined) return refuse(ctx, Close.UNAUTHORIZED, 'AUTHENTICATION_REQUIRED');
    // Without the bus no event could arrive: the client should come back later, or elsewhere.
    if (!bus.up) return refuse(ctx, Close.TRY_AGAIN_LATER, 'EVENTS_UNAVAILABLE');
    let held;
    try {
      held = await authenticate.hold(header, clientInfo(extra.request), extra.logger);
    } catch (err) {
      const code = err instanceof GraphQLError ? String(err.extensions.code) : undefined;
      if (code === 'UNAUTHENTICATED') {
        const reason = err instanceof GraphQLError ? err.extensions.reason : undefined;
        return refuse(ctx, Close.UNAUTHORIZED, typeof reason === 'string' ? reason : 'UNAUTHENTICATED');
      }
      if (code === 'TOO_MANY_REQUESTS') return refuse(ctx, Close.TOO_MANY, 'TOO_MANY_REQUESTS');
      if (code === 'SERVICE_UNAVAILABLE' || isDatabaseUnavailable(err) || isQueryTimeout(err))
        return refuse(ctx, Close.TRY_AGAIN_LATER, 'SERVICE_UNAVAILABLE');
      extra.logger.error({ err }, 'realtime: authentication failed unexpectedly');
      return refuse(ctx, Close.INTERNAL, 'INTERNAL_SERVER_ERROR');
    }
    if (extra.socket.readyState !== extra.socket.OPEN) return false;
    const connection = new RealtimeConnection(
      held,
      (code, reason) => extra.socket.close(code, reason),
      extra.logger,
      limits.authRecheckSeconds,
      registry.checks,
    );
    if (!registry.add(connection)) {
      connection.dispose();
      return refuse(ctx, Close.TOO_MANY, 'TOO_MANY_CONNECTIONS');
    }
    extra.connection = connection;
    unauthenticated.authenticated(extra.request);
    extra.logger.debug({ userId: held.user.id, method: held.method }, 'realtime: connection accepted');
    return true;
  }

  /** The document checks of an HTTP request, in the same order, for one subscribe message. */
  function prepare(ctx: WsContext<Record<string, unknown>, Extra>, payload: Record<string, unknown>) {
    const connection = ctx.extra.connection;
    if (!connection || connection.closed) return [clientError('UNAUTHENTICATED', 'The connection is closing')];
    // Checked again where the stream starts (realtime.stream.ts); here it spares the parsing.
    if (Object.keys(ctx.subscriptions).length > limits.maxSubscriptions)
      return [subscriptionLimit(limits.maxSubscriptions)];
    const verdict = documents(payload, { manifestWins: true });
    if ('refused' in verdict) return [clientError(verdict.refused.code, verdict.refused.message)];
    if (typeof verdict.query !== 'string' || verdict.query === '')
      return [clientError('BAD_REQUEST', 'The subscribe message needs a query')];
    let document: DocumentNode;
    try {
      document = parse(verdict.query, { maxTokens: config.limits.maxTokens });
    } catch (err) {
      const message = err instanceof Error ? err.message : 'Syntax error';
      return [clientError('GRAPHQL_PARSE_FAILED', message)];
    }
    const invalid = validate(schema, document, rules);
    if (invalid.length > 0)
      return invalid.map(
        (e) => new GraphQLError(e.message, { nodes: e.nodes, extensions: { code: 'GRAPHQL_VALIDATION_FAILED' } }),
      );
    const operationName = typeof payload.operationName === 'string' ? payload.operationName : undefined;
    const operation = getOperationAST(document, operationName);
    if (!operation) return [clientError('OPERATION_RESOLUTION_FAILURE', 'Unable to identify the operation')];
    if (operation.operation !== 'subscription')
      return [
        clientError('BAD_REQUEST', 'Only subscriptions run over WebSocket: send queries and mutations over HTTP'),
      ];
    const variables = (payload.variables ?? {}) as Record<string, unknown>;
    const tooCostly = costRefusal(schema, document, operation, variables, config.limits.maxCost);
    if (tooCostly) return [tooCostly];
    rememberText(document, verdict.query);
    return { schema, document, operationName, variableValues: variables };
  }

  const server = makeServer<Record<string, unknown>, Extra>({
    schema,
    connectionInitWaitTimeout: limits.connectionInitTimeoutMs,
    onConnect,
    subscribe: subscribeShared,
    onSubscribe: (ctx, _id, payload) => prepare(ctx, payload as unknown as Record<string, unknown>),
    context: (ctx, id): Context => {
      const connection = ctx.extra.connection!;
      const context = {
        // Resolvers of subscription fields read neither; the upgrade request stands in for logs.
        req: ctx.extra.request as Request,
        res: undefined as unknown as Response,
        config,
        requestId: `ws:${id}`,
        logger: ctx.extra.logger,
        authMethod: connection.method,
        loaders: new Map(),
      } as Omit<Context, 'user'> as Context;
      // The caller as the connection last checked it, so rules see a role change at once.
      Object.defineProperty(context, 'user', { get: () => connection.user, enumerable: true });
      bindToSocket(context, {
        feed,
        connection,
        maxQueuedEvents: limits.maxQueuedEvents,
        maxSubscriptions: limits.maxSubscriptions,
        slowConsumer: () => slowConsumer(ctx.extra),
      });
      return context;
    },
    onNext: (_ctx, _id, _payload, _args, result: ExecutionResult) =>
      result.errors ? { ...result, errors: formatted(result.errors) } : undefined,
    onError: (_ctx, _id, _payload, errors) => formatted(errors),
  });

  function slowConsumer(extra: Extra): void {
    const { socket } = extra;
    if (socket.readyState !== socket.OPEN) return;
    extra.logger.warn({ buffered: socket.bufferedAmount }, 'realtime: slow consumer disconnected');
    extra.connection?.close(Close.TRY_AGAIN_LATER, 'SLOW_CONSUMER');
    if (!extra.connection) socket.close(Close.TRY_AGAIN_LATER, 'SLOW_CONSUMER');
    // A consumer that does not read will not read the close frame either.
    setTimeout(() => socket.terminate(), 1000).unref();
  }

  wss.on('connection', (socket: WebSocket, request: IncomingMessage) => {
    const extra: Extra = {
      socket,
      request,
      logger: logger.child({ ws: randomBytes(6).toString('base64url') }),
    };
    let keepAlive: NodeJS.Timeout | undefined;
    if (limits.keepAliveMs > 0) {
      let alive = true;
      socket.on('pong', () => (alive = true));
      keepAlive = setInterval(() => {
        // No pong since the last ping: the peer is gone without a close.
        if (!alive) return socket.terminate();
        alive = false;
        socket.ping();
      }, limits.keepAliveMs).unref();
    }
    const closed = server.opened(
      {
        protocol: socket.protocol,
        send: (data) =>
          new Promise<void>((resolve, reject) => {
            if (socket.readyState !== socket.OPEN) return resolve();
            if (socket.bufferedAmount > limits.maxBufferedBytes) {
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
      },
      extra,
    );
    socket.on('error', (err) => extra.logger.debug({ err }, 'realtime: socket error'));
    socket.once('close', (code: number, reason: Buffer) => {
      clearInterval(keepAlive);
      if (extra.connection) {
        extra.connection.dispose();
        registry.remove(extra.connection);
      }
      void closed(code, reason.toString());
    });
  });

  function onUpgrade(request: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', () => socket.destroy());
    const url = new URL(request.url ?? '/', 'http://localhost');
    if (url.pathname !== PATH) return refuseUpgrade(socket, 404, 'Not Found');
    if (!accepting) return refuseUpgrade(socket, 503, 'Service Unavailable');
    // Browsers send cookies with a WebSocket upgrade and no preflight: the Origin is the check.
    if (!originAllowed(config, request.headers.origin, request.headers.host)) {
      logger.info({ origin: request.headers.origin }, 'realtime: upgrade from a refused origin');
      return refuseUpgrade(socket, 403, 'Forbidden');
    }
    // Refused here, before a WebSocket is set up: a socket without connection_init costs until the timeout.
    if (!unauthenticated.admit(request, socket, proxyaddr(request, options.trustProxy))) {
      logger.debug({ unauthenticated: unauthenticated.size }, 'realtime: upgrade over the unauthenticated socket caps');
      return refuseUpgrade(socket, 429, 'Too Many Requests', `Retry-After: ${unauthenticated.retryAfterSeconds}\r\n`);
    }
    wss.handleUpgrade(request, socket, head, (ws) => wss.emit('connection', ws, request));
  }
  httpServer.on('upgrade', onUpgrade);

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
      // The upgrade listener stays: until the HTTP server closes, a new upgrade gets a 503 here.
      // Without it, Node hands the upgrade to Express, and Apollo would answer it with a 400.
      accepting = false;
      offStatus();
      registry.stop();
      feed.close();
      for (const socket of wss.clients) socket.close(Close.GOING_AWAY, 'SERVER_SHUTTING_DOWN');
      // Clients answer the close frame at once; one that does not is cut off.
      const deadline = Date.now() + 2000;
      while (wss.clients.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      for (const socket of wss.clients) socket.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  };
}
