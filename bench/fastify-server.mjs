// Bench-only: the service's GraphQL path on Fastify instead of Express, to measure what a switch
// would gain (`npm run bench -- --only fastify`). Built on the same dist modules as the service:
// the same schema, authentication and context, the same Apollo plugins and limits, the same
// pre-Apollo checks (trusted documents, token limit, persisted-query hash), with @fastify/helmet,
// @fastify/cors and Fastify's own pino request logging standing in for helmet, cors and pino-http.
// It serves POST/GET /graphql and /health only: no WebSocket, OAuth, playground or housekeeping.
import { randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ApolloServer, HeaderMap } from '@apollo/server';
import {
  ApolloServerPluginCacheControlDisabled,
  ApolloServerPluginLandingPageDisabled,
} from '@apollo/server/plugin/disabled';
import { fastifyApolloDrainPlugin, fastifyApolloHandler } from '@as-integrations/fastify';
import { ApolloArmor } from '@escape.tech/graphql-armor';
import fastifyCors from '@fastify/cors';
import fastifyHelmet from '@fastify/helmet';
import Fastify from 'fastify';
import { GraphQLError } from 'graphql';

const require = createRequire(import.meta.url);
const dist = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'dist');
const load = (module) => require(path.join(dist, module));
require('reflect-metadata');
const { loadConfig } = load('core/config.js');
const { createLogger } = load('core/logger.js');
const { connectDatabase } = load('infra/db.js');
const { buildAppSchema } = load('app/schema.js');
const { createAuthenticator } = load('auth/auth.context.js');
const { costLimitPlugin } = load('http/complexity.js');
const { RATE_LIMITS } = load('infra/rate-limit.js');
const { readLimitPlugin } = load('http/read-limit.js');
const { auditEventLabels, defineAuditEventTypes } = load('audit/audit-event-types.js');
const { MODULES } = load('app/modules.js');
const {
  DATABASE_UNAVAILABLE_MESSAGE,
  InternalServerError,
  isDatabaseUnavailable,
  isQueryTimeout,
  QueryTimeoutError,
  retryLater,
} = load('core/errors.js');
const { errorLoggingPlugin, formatError, retryAfterPlugin } = load('http/format-error.js');
const { persistedQueryHashCheck, tokenLimit } = load('http/security.js');
const { TRUSTED_DOCUMENTS_FILE } = load('core/paths.js');
const { documentPolicy, trustedDocuments } = load('http/trusted-documents.js');
const { localEventBus, setEventBus } = load('infra/events.js');
const { createMetrics, setMetrics } = load('observability/metrics.registry.js');
const { committedOperationNames, ERROR_CODE_LABELS, metricsPlugin } = load('observability/metrics.plugin.js');
const { listenMetrics } = load('observability/metrics.server.js');

const config = loadConfig();
const logger = createLogger(config);
const documents = documentPolicy(config, TRUSTED_DOCUMENTS_FILE);
const metrics =
  config.metrics.port !== 0
    ? createMetrics({
        errorCodes: ERROR_CODE_LABELS,
        authEvents: (defineAuditEventTypes(MODULES), auditEventLabels()),
        rateLimits: RATE_LIMITS,
      })
    : undefined;
if (metrics) await listenMetrics(metrics, config.metrics.port, config.metrics.host);
setMetrics(metrics);
await connectDatabase(config.mongodbUri, logger, { queryTimeoutMs: config.dbQueryTimeoutMs });
const schema = await buildAppSchema();
const authenticate = createAuthenticator(config, logger);
setEventBus(localEventBus());

/** BODY_LIMIT (`100kb`, `1mb`, `512`) in bytes, as Express's body parser reads it. */
function bytes(size) {
  const [, n, unit = 'b'] = /^(\d+)(b|kb|mb)?$/i.exec(size);
  return Number(n) * { b: 1, kb: 1024, mb: 1 << 20 }[unit.toLowerCase()];
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;
const app = Fastify({
  loggerInstance: logger,
  bodyLimit: bytes(config.http.bodyLimit),
  trustProxy: config.http.trustProxy,
  requestIdHeader: false,
  genReqId: (req) => {
    const given = req.headers['x-request-id'];
    return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
  },
  keepAliveTimeout: config.http.keepAliveTimeoutMs,
  requestTimeout: config.http.requestTimeoutMs,
});
app.addHook('onRequest', (request, reply, done) => {
  reply.header('x-request-id', request.id);
  done();
});
if (metrics)
  app.addHook('onResponse', (request, reply, done) => {
    metrics.httpRequests.inc({ route: request.routeOptions.url ?? 'other', status: String(reply.statusCode) });
    done();
  });
await app.register(fastifyHelmet);
await app.register(fastifyCors, {
  origin: config.http.corsOrigins,
  credentials: true,
  methods: ['GET', 'POST', 'OPTIONS'],
  exposedHeaders: ['x-request-id', 'retry-after', 'www-authenticate'],
  maxAge: 600,
});

const armored = new ApolloArmor({
  maxDepth: { n: config.limits.maxDepth },
  maxAliases: { n: config.limits.maxAliases },
  maxDirectives: { n: config.limits.maxDirectives },
  costLimit: { enabled: false },
  maxTokens: { enabled: false },
  blockFieldSuggestion: { enabled: false },
}).protect();
const apollo = new ApolloServer({
  schema,
  introspection: config.introspection,
  validationRules: armored.validationRules,
  allowBatchedHttpRequests: false,
  csrfPrevention: true,
  stopOnTerminationSignals: false,
  formatError: formatError(config),
  includeStacktraceInErrorResponses: !config.isProduction,
  plugins: [
    ...(metrics ? [metricsPlugin(metrics, committedOperationNames(TRUSTED_DOCUMENTS_FILE))] : []),
    ...armored.plugins,
    costLimitPlugin(config.limits.maxCost),
    readLimitPlugin(config, logger),
    fastifyApolloDrainPlugin(app),
    ApolloServerPluginLandingPageDisabled(),
    ApolloServerPluginCacheControlDisabled(),
    errorLoggingPlugin(),
    retryAfterPlugin(),
  ],
});
await apollo.start();

/** The service's Express middlewares before Apollo, run as Fastify preHandlers. */
const asPreHandler = (middleware) => (request, reply, done) => {
  const res = {
    status(code) {
      reply.code(code);
      return res;
    },
    json(body) {
      reply.send(body);
    },
  };
  middleware(request, res, (err) => (err ? done(err) : done()));
};

function contextFailure(err, log) {
  if (err instanceof GraphQLError) return err;
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

app.get('/health', async () => ({ status: 'ok' }));
app.route({
  url: '/graphql',
  method: ['GET', 'POST', 'OPTIONS'],
  preHandler: [
    asPreHandler(trustedDocuments(config, documents)),
    asPreHandler(tokenLimit(config.limits.maxTokens)),
    asPreHandler(persistedQueryHashCheck()),
  ],
  handler: fastifyApolloHandler(apollo, {
    context: async (request, reply) => {
      const { user, method, account } = await authenticate(request).catch((err) => {
        throw contextFailure(err, request.log);
      });
      return {
        req: request,
        res: reply,
        config,
        requestId: request.id,
        logger: request.log,
        user,
        authMethod: method,
        account,
        loaders: new Map(),
      };
    },
  }),
});

await app.listen({ port: Number(process.env.PORT ?? 0), host: process.env.HOST ?? '127.0.0.1' });
process.on('SIGTERM', () => app.close().then(() => process.exit(0)));
