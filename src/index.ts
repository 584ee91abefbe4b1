import 'reflect-metadata';
import path from 'node:path';
import { ConfigError, loadConfig, withDatabaseUri, type Config } from './core/config';
import type { EmbeddedDatabase } from './infra/embedded-db';
import { createLogger } from './core/logger';
import type { AppServer } from './app/server';
import { startTracing, type Tracing } from './observability/tracing';

/** How long a stop waits for the last spans to reach the collector. */
const TRACING_FLUSH_MS = 3_000;

async function main(): Promise<void> {
  let config: Config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`Invalid configuration: ${err.message}\n`);
      process.exit(1);
    }
    throw err;
  }
  const logger = createLogger(config);
  if (config.jwt.generated) {
    logger.warn('JWT_SECRET is not set: using a random secret for this process; tokens will not survive a restart');
  }

  // Before anything requires http, express, graphql or mongodb: the instrumentations patch them as they load.
  let tracing: Tracing | undefined;
  try {
    tracing = await startTracing(config);
  } catch (err) {
    logger.fatal({ err }, 'failed to start tracing');
    process.exit(1);
  }
  if (config.tracing) logger.info({ url: config.tracing.tracesUrl, sampler: config.tracing.sampler }, 'tracing on');
  const { startEmbeddedDatabase } = await import('./infra/embedded-db');
  const { withDatabaseName } = await import('./infra/db');
  const { createServer } = await import('./app/server');

  let embedded: EmbeddedDatabase | undefined;
  let server: AppServer | undefined;
  let shuttingDown = false;

  const shutdown = async (signal: string) => {
    if (shuttingDown) {
      logger.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    shuttingDown = true;
    logger.info({ signal }, 'shutting down: draining requests');
    const force = setTimeout(
      () => {
        logger.error('shutdown took too long: exiting');
        process.exit(1);
      },
      config.shutdownDelayMs + config.shutdownTimeoutMs + 10_000,
    );
    force.unref();
    try {
      await server?.stop();
      await embedded?.stop();
      // Sends the spans still queued, so the last requests before a deploy are not lost.
      // Bounded: an unreachable collector must not turn a clean stop into a forced exit.
      await Promise.race([
        tracing?.shutdown().catch((err: unknown) => logger.warn({ err }, 'tracing shutdown failed')),
        new Promise<void>((resolve) => setTimeout(resolve, TRACING_FLUSH_MS).unref()),
      ]);
      logger.info('stopped');
      logger.flush?.();
      process.exit(0);
    } catch (err) {
      logger.error({ err }, 'error during shutdown');
      process.exit(1);
    }
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));

  try {
    if (!config.mongodbUri) {
      embedded = await startEmbeddedDatabase({
        dataDir: config.dataDir,
        mongodBinary: config.mongodBinary,
        logger,
        persistent: true,
      });
      logger.info(
        { engine: embedded.engine, pid: embedded.pid, dataDir: path.relative(process.cwd(), embedded.dataDir) || '.' },
        `embedded database started (${embedded.engine})`,
      );
      config = withDatabaseUri(config, withDatabaseName(embedded.uri, 'graphql_api'));
    }
    server = await createServer(config, { logger });
    const url = await server.listen();
    logger.info({ url }, 'listening');
    logger.info(`GraphQL   ${url}/graphql`);
    logger.info(`Health    ${url}/health`);
    logger.info(`Readiness ${url}/ready`);
    if (config.playground) logger.info(`Playground ${url}/playground`);
  } catch (err) {
    // The reason goes in the message itself: an operator reading the log must not need the stack.
    logger.fatal({ err }, `failed to start: ${err instanceof Error ? err.message : String(err)}`);
    await server?.stop().catch(() => undefined);
    await embedded?.stop().catch(() => undefined);
    process.exitCode = 1;
    setTimeout(() => process.exit(1), 200).unref();
  }
}

void main();
