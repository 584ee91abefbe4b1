// Bench-only: the service's GraphQL path on Fastify instead of Express, to measure what a switch
// would gain (`npm run bench -- --only fastify`). Built on the same dist modules as the service:
// the same schema, authentication and context factory, the same Apollo server options and plugins
// (app/apollo.js), the same pre-Apollo document checks (trusted documents, token limit,
// persisted-query hash: http/document-checks.js), with @fastify/helmet,
// @fastify/cors and Fastify's own pino request logging standing in for helmet, cors and pino-http.
// It serves POST/GET /graphql and /health only: no WebSocket, OAuth, playground or housekeeping.
import { randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { fastifyApolloDrainPlugin, fastifyApolloHandler } from '@as-integrations/fastify';
import fastifyCors from '@fastify/cors';
import fastifyHelmet from '@fastify/helmet';
import Fastify from 'fastify';

const require = createRequire(import.meta.url);
const dist = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'dist');
const load = (module) => require(path.join(dist, module));
require('reflect-metadata');
const { loadConfig } = load('core/config.js');
const { createLogger } = load('core/logger.js');
const { connectDatabase } = load('infra/db.js');
const { buildAppSchema } = load('app/schema.js');
const { armor, createApollo } = load('app/apollo.js');
const { startMetrics } = load('app/lifecycle.js');
const { installFeatureModules, MODULES } = load('app/modules.js');
const { createAuthenticator } = load('auth/auth.context.js');
const { TRUSTED_DOCUMENTS_FILE } = load('core/paths.js');
const { checkDocuments, documentChecks } = load('http/document-checks.js');
const { createContextFactory, httpContext } = load('http/graphql-context.js');
const { localEventBus, setEventBus } = load('infra/events.js');

const config = loadConfig();
const logger = createLogger(config);
const documents = documentChecks(config, TRUSTED_DOCUMENTS_FILE);
installFeatureModules();
const { metrics } = await startMetrics(config);
await connectDatabase(config.mongodbUri, logger, { queryTimeoutMs: config.dbQueryTimeoutMs });
const schema = await buildAppSchema();
const authenticate = createAuthenticator(
  config,
  logger,
  MODULES.flatMap((m) => m.authStrategies ?? []),
);
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

const apollo = createApollo({
  config,
  logger,
  schema,
  metrics,
  armored: armor(config),
  drain: fastifyApolloDrainPlugin(app),
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

// The service's context function: Fastify's request and reply stand in for Express's (`id`,
// `log`, `ip` and `headers` are what it and the authenticator read).
const context = httpContext(authenticate, createContextFactory(config, logger), logger);

app.get('/health', async () => ({ status: 'ok' }));
app.route({
  url: '/graphql',
  method: ['GET', 'POST', 'OPTIONS'],
  preHandler: asPreHandler(checkDocuments(documents)),
  handler: fastifyApolloHandler(apollo, { context: (request, reply) => context({ req: request, res: reply }) }),
});

await app.listen({ port: Number(process.env.PORT ?? 0), host: process.env.HOST ?? '127.0.0.1' });
process.on('SIGTERM', () => app.close().then(() => process.exit(0)));
