import 'reflect-metadata';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { ApolloServer, HeaderMap } from '@apollo/server';
import {
  ApolloServerPluginCacheControlDisabled,
  ApolloServerPluginLandingPageDisabled,
} from '@apollo/server/plugin/disabled';
import { ApolloServerPluginDrainHttpServer } from '@apollo/server/plugin/drainHttpServer';
import { expressMiddleware } from '@as-integrations/express5';
import { ApolloArmor } from '@escape.tech/graphql-armor';
import express from 'express';
import { GraphQLError } from 'graphql';
import { auditEventLabels, defineAuditEventTypes } from '../audit/audit-event-types';
import { createAuthenticator } from '../auth/auth.context';
import { ensureAdmin } from '../auth/admin-bootstrap';
import { oauthRouter } from '../auth/oauth.route';
import type { Context } from '../core/context';
import type { Config } from '../core/config';
import { costLimitPlugin } from '../http/complexity';
import {
  DATABASE_UNAVAILABLE_MESSAGE,
  InternalServerError,
  isDatabaseUnavailable,
  isQueryTimeout,
  QueryTimeoutError,
  retryLater,
} from '../core/errors';
import { connectDatabase, disconnectDatabase, pingDatabase, syncIndexes } from '../infra/db';
import { errorLoggingPlugin, formatError, retryAfterPlugin } from '../http/format-error';
import { jsonErrors, notFound, requestId, requestLogger } from '../http/http';
import { createLogger, type Logger } from '../core/logger';
import { playgroundRouter } from '../http/playground';
import { accountPagesRouter } from '../http/account-pages';
import { deleteExpiredCounters, RATE_LIMITS } from '../infra/rate-limit';
import { readLimitPlugin } from '../http/read-limit';
import { corsPolicy, persistedQueryHashCheck, securityHeaders, tokenLimit } from '../http/security';
import { TRUSTED_DOCUMENTS_FILE } from '../core/paths';
import { documentPolicy, trustedDocuments } from '../http/trusted-documents';
import { localEventBus, setEventBus } from '../infra/events';
import { redisEventBus } from '../infra/redis-events';
import { startRealtime } from '../realtime/realtime.server';
import { countMailBacklog } from '../mail/mail.service';
import { createMetrics, currentMetrics, setMetrics } from '../observability/metrics.registry';
import { committedOperationNames, ERROR_CODE_LABELS, metricsPlugin } from '../observability/metrics.plugin';
import { watchPool } from '../observability/metrics.pool';
import { countRequests, listenMetrics } from '../observability/metrics.server';
import { buildAppSchema } from './schema';
import { MODULES } from './modules';
import { installModules } from '../core/hooks';
import type { MailWorkerOptions } from '../mail/mail.worker';

export interface AppServer {
  readonly app: express.Express;
  readonly httpServer: http.Server;
  readonly logger: Logger;
  /** True once shutdown began: `/ready` answers 503 while in-flight requests finish. */
  readonly draining: boolean;
  /** The Prometheus scrape URL (`http://METRICS_HOST:port/metrics`); undefined when metrics are off. */
  readonly metricsUrl: string | undefined;
  listen(port?: number, host?: string): Promise<string>;
  stop(): Promise<void>;
}

export interface ServerOptions {
  logger?: Logger;
  /** Emit the driver's command events (tests count database round trips with them). */
  monitorCommands?: boolean;
  /** Poll interval and backoff of the mail worker (tests shorten them). */
  mail?: MailWorkerOptions;
  /** Serve metrics on this port instead of METRICS_PORT; 0 here picks a free port (tests run servers side by side). */
  metricsPort?: number;
}

/**
 * graphql-armor's limits. The token limit runs before Apollo (see tokenLimit); the cost limit
 * needs the request's variables (see costLimitPlugin); suggestions are masked in formatError,
 * which also covers enum values and variables.
 */
function armor(config: Config) {
  const { limits } = config;
  return new ApolloArmor({
    maxDepth: { n: limits.maxDepth },
    maxAliases: { n: limits.maxAliases },
    maxDirectives: { n: limits.maxDirectives },
    costLimit: { enabled: false },
    maxTokens: { enabled: false },
    blockFieldSuggestion: { enabled: false },
  }).protect();
}

/**
 * Authentication needs the database; when that fails the request cannot proceed. Answer 503
 * with a generic message (the details go to the log), never a 500 with driver text.
 */
function contextFailure(err: unknown, log: Logger): GraphQLError {
  if (err instanceof GraphQLError) return err;
  // A read of authentication ran past DB_QUERY_TIMEOUT_MS: 503, as for any other read.
  if (isQueryTimeout(err)) {
    log.warn({ err }, 'authentication: database read timed out');
    return retryLater(new QueryTimeoutError());
  }
  log.error({ err }, 'authentication failed unexpectedly');
  const unavailable = isDatabaseUnavailable(err);
  return new InternalServerError(unavailable ? DATABASE_UNAVAILABLE_MESSAGE : 'Internal server error', {
    http: { status: unavailable ? 503 : 500, headers: new HeaderMap(unavailable ? [['retry-after', '5']] : []) },
  });
}

/**
 * Removes what has expired: rate-limit counters (lockouts too) and each module's documents
 * (sessions, links, audit events; FerretDB has no TTL indexes).
 */
function startHousekeeping(config: Config, logger: Logger): NodeJS.Timeout | undefined {
  if (config.sessionCleanupIntervalSeconds === 0) return undefined;
  return setInterval(() => {
    Promise.all([deleteExpiredCounters(), ...MODULES.map((m) => m.housekeeping?.(config))]).catch((err) =>
      logger.warn({ err }, 'housekeeping failed'),
    );
  }, config.sessionCleanupIntervalSeconds * 1000).unref();
}

/**
 * Builds the whole application (database connection, schema, Apollo, routes) without
 * listening. `src/index.ts` and the tests both start the service through this function.
 */
export async function createServer(config: Config, options: ServerOptions = {}): Promise<AppServer> {
  const logger = options.logger ?? createLogger(config);
  installModules(MODULES);
  defineAuditEventTypes(MODULES);
  if (!config.mongodbUri) throw new Error('createServer needs config.mongodbUri');
  // Read once, before anything starts, so a missing or wrong manifest stops the start.
  const documents = documentPolicy(config, TRUSTED_DOCUMENTS_FILE);
  // METRICS_PORT=0 turns metrics off: no listener, and nothing counted on the request path.
  const metricsPort = options.metricsPort ?? config.metrics.port;
  const metrics =
    options.metricsPort !== undefined || metricsPort !== 0
      ? createMetrics({ errorCodes: ERROR_CODE_LABELS, authEvents: auditEventLabels(), rateLimits: RATE_LIMITS })
      : undefined;
  // First, so a busy port stops the start before anything else runs.
  const metricsListener = metrics && (await listenMetrics(metrics, metricsPort, config.metrics.host));
  setMetrics(metrics);

  const db = await connectDatabase(config.mongodbUri, logger, {
    monitorCommands: options.monitorCommands,
    queryTimeoutMs: config.dbQueryTimeoutMs,
  });
  const unwatchPool = metrics && watchPool(metrics, db.connection.getClient());
  try {
    await syncIndexes();
    await ensureAdmin(config, logger);
  } catch (err) {
    // A refused start leaves nothing open behind it (tests start again in the same process), and
    // a failing clean-up step hides neither the reason nor the other steps.
    unwatchPool?.();
    await Promise.allSettled([disconnectDatabase(), metricsListener?.close()]);
    if (currentMetrics() === metrics) setMetrics(undefined);
    throw err;
  }
  const schema = await buildAppSchema();
  const authStrategies = MODULES.flatMap((m) => m.authStrategies ?? []);
  const authenticate = createAuthenticator(config, logger, authStrategies);
  if (config.isProduction && !config.playground && config.mail.links.verifyEmail.startsWith(config.mail.publicUrl))
    // The default links point at the self-hosted account pages, which are served with the playground.
    logger.warn(
      'account links point at /account/… pages this server does not serve: set PLAYGROUND=true or VERIFY_EMAIL_URL, RESET_PASSWORD_URL and CONFIRM_EMAIL_CHANGE_URL',
    );
  // Item changes and session revocations go through this bus to every instance's subscribers.
  const bus = config.realtime.redisUrl ? redisEventBus(config.realtime.redisUrl, logger) : localEventBus();
  setEventBus(bus);
  const housekeeping = startHousekeeping(config, logger);
  const jobs = MODULES.flatMap((m) => m.start?.({ config, logger, settings: { mail: options.mail } }) ?? []);

  const app = express();
  app.disable('x-powered-by');
  // GraphQL responses are per-request POST answers: hashing each body for an ETag is wasted work.
  app.set('etag', false);
  app.set('trust proxy', config.http.trustProxy);
  const httpServer = http.createServer(app);
  // Slow or idle clients cannot hold a connection for ever.
  httpServer.headersTimeout = config.http.headersTimeoutMs;
  httpServer.requestTimeout = config.http.requestTimeoutMs;
  httpServer.keepAliveTimeout = config.http.keepAliveTimeoutMs;
  let draining = false;

  const armored = armor(config);
  const apollo = new ApolloServer<Context>({
    schema,
    introspection: config.introspection,
    validationRules: armored.validationRules,
    allowBatchedHttpRequests: false,
    csrfPrevention: true,
    // src/index.ts owns signal handling (drain delay, database shutdown, exit code).
    stopOnTerminationSignals: false,
    formatError: formatError(config),
    includeStacktraceInErrorResponses: !config.isProduction,
    plugins: [
      ...(metrics ? [metricsPlugin(metrics, committedOperationNames(TRUSTED_DOCUMENTS_FILE))] : []),
      ...armored.plugins,
      costLimitPlugin(config.limits.maxCost),
      readLimitPlugin(config, logger),
      ApolloServerPluginDrainHttpServer({ httpServer, stopGracePeriodMillis: config.shutdownTimeoutMs }),
      ApolloServerPluginLandingPageDisabled(),
      // No @cacheControl hints in this schema: the default plugin would only add per-field work.
      ApolloServerPluginCacheControlDisabled(),
      errorLoggingPlugin(),
      retryAfterPlugin(),
    ],
  });
  await apollo.start();
  const realtime = startRealtime({
    config,
    logger,
    schema,
    httpServer,
    bus,
    authenticate,
    documents,
    validationRules: armored.validationRules,
    trustProxy: app.get('trust proxy fn') as (addr: string, i: number) => boolean,
  });
  metrics?.watch('websocket_connections', 'Open GraphQL WebSocket connections', () => realtime.connections);
  metrics?.watch('mail_outbox_backlog', 'Mail messages waiting in the outbox to be sent', countMailBacklog);

  const headers = securityHeaders();
  if (metrics) app.use(countRequests(metrics));
  app.use(requestLogger(logger));
  app.use(corsPolicy(config, logger));

  app.get('/health', headers.api, (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.get('/ready', headers.api, async (_req, res) => {
    const up = !draining && (await pingDatabase());
    // Redis carries only subscriptions: its outage is reported, but HTTP is still served.
    const events = bus.kind === 'redis' ? { events: bus.up ? 'up' : 'down' } : {};
    res
      .status(up ? 200 : 503)
      .json(
        up
          ? { status: 'ok', database: 'up', ...events }
          : { status: 'unavailable', database: draining ? 'draining' : 'down', ...events },
      );
  });

  if (config.playground) app.use(headers.playground, playgroundRouter());
  // The default targets of the links in account mail; a frontend can own them instead.
  if (config.playground) app.use('/account', headers.accountPages, accountPagesRouter());

  // The context's logger is a getter on its prototype, so the request's child logger is built
  // only when a resolver logs: Apollo copies a context's own properties for each operation, which
  // would run a getter of its own every time.
  const contextBase = {
    get logger(): Logger {
      return (this as unknown as Context).req.log ?? logger;
    },
  };
  app.use(
    '/graphql',
    headers.api,
    express.json({ limit: config.http.bodyLimit }),
    trustedDocuments(config, documents),
    tokenLimit(config.limits.maxTokens),
    persistedQueryHashCheck(),
    expressMiddleware(apollo, {
      context: async ({ req, res }): Promise<Context> => {
        const { user, method, account } = await authenticate(req).catch((err: unknown) => {
          throw contextFailure(err, req.log ?? logger);
        });
        const fields: Omit<Context, 'logger'> = {
          req,
          res,
          config,
          requestId: requestId(req),
          user,
          authMethod: method,
          account,
          loaders: new Map(),
        };
        return Object.assign(Object.create(contextBase) as Context, fields);
      },
    }),
  );
  app.use(headers.api, oauthRouter(config, logger));

  app.use(headers.api, notFound);
  app.use(jsonErrors(logger));

  let stopped: Promise<void> | undefined;
  return {
    app,
    httpServer,
    logger,
    get draining() {
      return draining;
    },
    metricsUrl: metricsListener?.url,
    listen(port = config.port, host = config.host) {
      return new Promise((resolve, reject) => {
        httpServer.once('error', reject);
        httpServer.listen(port, host, () => {
          const address = httpServer.address() as AddressInfo;
          const shownHost = host === '0.0.0.0' || host === '::' ? 'localhost' : host;
          resolve(`http://${shownHost}:${address.port}`);
        });
      });
    },
    stop() {
      stopped ??= (async () => {
        draining = true;
        // A new socket would only be closed again in a moment: send it elsewhere now.
        realtime.drain();
        clearInterval(housekeeping);
        // Keep accepting for a moment while /ready says 503, so load balancers stop routing here.
        if (config.shutdownDelayMs > 0) await new Promise((r) => setTimeout(r, config.shutdownDelayMs));
        // Subscribers reconnect elsewhere (1001); the HTTP server can then close.
        await realtime.close();
        // Stops accepting connections, lets in-flight requests finish within the grace period.
        await apollo.stop();
        if (httpServer.listening) await new Promise<void>((r) => httpServer.close(() => r()));
        // Work answered for but not yet written reaches the database, the features that build on
        // others first (a password reset's audit event is flushed after the reset).
        for (const m of [...MODULES].reverse()) await m.flush?.(config);
        // Background work (the mail worker) stops, the last started first.
        for (const job of [...jobs].reverse()) await job.stop();
        await disconnectDatabase();
        await bus.close();
        setEventBus(localEventBus());
        unwatchPool?.();
        await metricsListener?.close();
        if (currentMetrics() === metrics) setMetrics(undefined);
      })();
      return stopped;
    },
  };
}
