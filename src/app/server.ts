import 'reflect-metadata';
import type http from 'node:http';
import type express from 'express';
import { createAuthenticator } from '../auth/auth.context';
import type { Config } from '../core/config';
import { createLogger, type Logger } from '../core/logger';
import { TRUSTED_DOCUMENTS_FILE } from '../core/paths';
import { documentChecks } from '../http/document-checks';
import { createContextFactory, httpContext } from '../http/graphql-context';
import { countMailBacklog } from '../mail/mail.service';
import type { MailWorkerOptions } from '../mail/mail.worker';
import type { Metrics } from '../observability/metrics.registry';
import { startRealtime, type RealtimeServer } from '../realtime/realtime.server';
import { startApollo } from './apollo';
import { startBackgroundWork } from './background';
import { createHttpApp, listen, mountRoutes } from './http-app';
import { openDatabase, startEventBus, startMetrics, warnOnUnservedAccountLinks } from './lifecycle';
import { installFeatureModules, MODULES } from './modules';
import { buildAppSchema } from './schema';
import { runShutdown, shutdownOrder } from './shutdown';

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

/** Gauges read at scrape time. */
function watchGauges(metrics: Metrics | undefined, realtime: RealtimeServer): void {
  metrics?.watch('websocket_connections', 'Open GraphQL WebSocket connections', () => realtime.connections);
  metrics?.watch('mail_outbox_backlog', 'Mail messages waiting in the outbox to be sent', countMailBacklog);
}

/**
 * Builds the whole application (database connection, schema, Apollo, routes) without
 * listening. `src/index.ts` and the tests both start the service through this function.
 */
export async function createServer(config: Config, options: ServerOptions = {}): Promise<AppServer> {
  const logger = options.logger ?? createLogger(config);
  installFeatureModules();
  if (!config.mongodbUri) throw new Error('createServer needs config.mongodbUri');
  // Read once, before anything starts, so a missing or wrong manifest stops the start.
  const documents = documentChecks(config, TRUSTED_DOCUMENTS_FILE);
  const monitoring = await startMetrics(config, options.metricsPort);
  await openDatabase(config, logger, options, monitoring);
  const schema = await buildAppSchema();
  // The strategies the modules bring (bearer tokens, Basic, API keys), tried in turn.
  const authenticate = createAuthenticator(
    config,
    logger,
    MODULES.flatMap((m) => m.authStrategies ?? []),
  );
  warnOnUnservedAccountLinks(config, logger);
  const bus = startEventBus(config, logger);
  const background = startBackgroundWork(config, logger, { mail: options.mail });

  const { app, httpServer, trustProxy } = createHttpApp(config);
  const { metrics } = monitoring;
  const { apollo, validationRules } = await startApollo({ config, logger, schema, metrics, httpServer });
  const buildContext = createContextFactory(config, logger);
  const realtime = startRealtime({
    config,
    logger,
    schema,
    httpServer,
    bus,
    authenticate,
    documents,
    buildContext,
    validationRules,
    trustProxy,
  });
  watchGauges(metrics, realtime);
  let draining = false;
  const context = httpContext(authenticate, buildContext, logger);
  mountRoutes(app, { config, logger, metrics, apollo, context, documents, bus, draining: () => draining });

  const startDraining = () => void (draining = true);
  const steps = shutdownOrder({ config, startDraining, realtime, background, apollo, httpServer, bus, monitoring });
  let stopped: Promise<void> | undefined;
  return {
    app,
    httpServer,
    logger,
    get draining() {
      return draining;
    },
    metricsUrl: monitoring.url,
    listen: (port = config.port, host = config.host) => listen(httpServer, port, host),
    stop: () => (stopped ??= runShutdown(steps)),
  };
}
