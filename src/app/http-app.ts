import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ApolloServer } from '@apollo/server';
import { expressMiddleware } from '@as-integrations/express5';
import express, { type RequestHandler } from 'express';
import { oauthRouter } from '../auth/oauth.route';
import type { Config } from '../core/config';
import type { Context } from '../core/context';
import type { Logger } from '../core/logger';
import { accountPagesRouter } from '../http/account-pages';
import { checkDocuments, type DocumentChecks } from '../http/document-checks';
import type { HttpContextFunction } from '../http/graphql-context';
import { jsonErrors, notFound, requestLogger, type TrustProxy } from '../http/http';
import { playgroundRouter } from '../http/playground';
import { corsPolicy, securityHeaders } from '../http/security';
import { pingDatabase } from '../infra/db';
import type { EventBus } from '../infra/events';
import type { Metrics } from '../observability/metrics.registry';
import { countRequests } from '../observability/metrics.server';

export interface HttpApp {
  app: express.Express;
  httpServer: http.Server;
  /** Express's compiled `trust proxy`, so WebSocket upgrades read the client address as HTTP does. */
  trustProxy: TrustProxy;
}

/** The Express application and its HTTP server, without routes and not listening. */
export function createHttpApp(config: Config): HttpApp {
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
  return { app, httpServer, trustProxy: app.get('trust proxy fn') as TrustProxy };
}

/** Listens; resolves with the URL to reach the server at. */
export function listen(httpServer: http.Server, port: number, host: string): Promise<string> {
  return new Promise((resolve, reject) => {
    httpServer.once('error', reject);
    httpServer.listen(port, host, () => {
      const address = httpServer.address() as AddressInfo;
      const shownHost = host === '0.0.0.0' || host === '::' ? 'localhost' : host;
      resolve(`http://${shownHost}:${address.port}`);
    });
  });
}

/** Stops accepting connections; resolves once the open ones have ended. */
export async function closeHttpServer(httpServer: http.Server): Promise<void> {
  if (httpServer.listening) await new Promise<void>((r) => httpServer.close(() => r()));
}

export interface Routes {
  config: Config;
  logger: Logger;
  metrics: Metrics | undefined;
  apollo: ApolloServer<Context>;
  /** Builds an HTTP request's GraphQL context (authentication included). */
  context: HttpContextFunction;
  documents: DocumentChecks;
  bus: EventBus;
  /** True once shutdown began: `/ready` answers 503 while in-flight requests finish. */
  draining(): boolean;
}

/** `/ready`: 503 while draining or without the database, so load balancers route elsewhere. */
function readiness(routes: Routes): RequestHandler {
  const { bus } = routes;
  return async (_req, res) => {
    const draining = routes.draining();
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
  };
}

/** Every route of the service, in order: probes, pages, GraphQL, OAuth, then 404 and JSON errors. */
export function mountRoutes(app: express.Express, routes: Routes): void {
  const { config, logger, metrics } = routes;
  const headers = securityHeaders();
  if (metrics) app.use(countRequests(metrics));
  app.use(requestLogger(logger));
  app.use(corsPolicy(config, logger));

  app.get('/health', headers.api, (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.get('/ready', headers.api, readiness(routes));

  if (config.playground) app.use(headers.playground, playgroundRouter());
  // The default targets of the links in account mail; a frontend can own them instead.
  if (config.playground) app.use('/account', headers.accountPages, accountPagesRouter());

  app.use(
    '/graphql',
    headers.api,
    express.json({ limit: config.http.bodyLimit }),
    checkDocuments(routes.documents),
    expressMiddleware(routes.apollo, { context: routes.context }),
  );
  app.use(headers.api, oauthRouter(config, logger));

  app.use(headers.api, notFound);
  app.use(jsonErrors(logger));
}
