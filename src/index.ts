import 'reflect-metadata';
import path from 'node:path';
import { ConfigError, loadConfig, withDatabaseUri, type Config } from './core/config';
import type { EmbeddedDatabase } from './infra/embedded-db';
import { createLogger, type Logger } from './core/logger';
import type { AppServer } from './app/server';
import { startTracing, type Tracing } from './observability/tracing';

/** How long a stop waits for the last spans to reach the collector. */
const TRACING_FLUSH_MS = 3_000;

async function main(): Promise<void> {
  const config = loadConfigOrExit();
  const logger = createLogger(config);
  if (config.jwt.generated) {
    logger.warn('JWT_SECRET is not set: using a random secret for this process; tokens will not survive a restart');
  }
  const tracing = await startTracingOrExit(config, logger);
  const modules = await loadModules();
  const service = new Service(config, logger, tracing);
  process.on('SIGTERM', () => void service.shutdown('SIGTERM'));
  process.on('SIGINT', () => void service.shutdown('SIGINT'));
  await service.start(modules);
}

/** A bad configuration is the operator's to fix: one line on stderr and exit code 1, no stack. */
function loadConfigOrExit(): Config {
  try {
    return loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`Invalid configuration: ${err.message}\n`);
      process.exit(1);
    }
    throw err;
  }
}

async function startTracingOrExit(config: Config, logger: Logger): Promise<Tracing | undefined> {
  let tracing: Tracing | undefined;
  try {
    tracing = await startTracing(config);
  } catch (err) {
    logger.fatal({ err }, 'failed to start tracing');
    process.exit(1);
  }
  if (config.tracing) logger.info({ url: config.tracing.tracesUrl, sampler: config.tracing.sampler }, 'tracing on');
  return tracing;
}

/** Loaded after tracing started: the instrumentations patch http, express, graphql and mongodb as they load. */
async function loadModules() {
  const { startEmbeddedDatabase } = await import('./infra/embedded-db');
  const { withDatabaseName } = await import('./infra/db');
  const { createServer } = await import('./app/server');
  return { startEmbeddedDatabase, withDatabaseName, createServer };
}

type Modules = Awaited<ReturnType<typeof loadModules>>;

/** The running process: what it started, so that a signal or a failed start stops exactly that. */
class Service {
  private embedded: EmbeddedDatabase | undefined;
  private server: AppServer | undefined;
  private shuttingDown = false;

  constructor(
    private config: Config,
    private readonly logger: Logger,
    private readonly tracing: Tracing | undefined,
  ) {}

  async start(modules: Modules): Promise<void> {
    try {
      if (!this.config.mongodbUri) await this.startEmbeddedDatabase(modules);
      this.server = await modules.createServer(this.config, { logger: this.logger });
      this.logAddresses(await this.server.listen());
    } catch (err) {
      await this.failedToStart(err);
    }
  }

  /** Drains requests, stops the database and flushes the spans; exit 0, or 1 on an error or a second signal. */
  async shutdown(signal: string): Promise<void> {
    const { logger } = this;
    if (this.shuttingDown) {
      logger.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    this.shuttingDown = true;
    logger.info({ signal }, 'shutting down: draining requests');
    this.exitIfStuck();
    try {
      await this.server?.stop();
      await this.embedded?.stop();
      await this.flushTracing();
      logger.info('stopped');
      logger.flush?.();
      process.exit(0);
    } catch (err) {
      logger.error({ err }, 'error during shutdown');
      process.exit(1);
    }
  }

  private async startEmbeddedDatabase({ startEmbeddedDatabase, withDatabaseName }: Modules): Promise<void> {
    const { config, logger } = this;
    const embedded = await startEmbeddedDatabase({
      dataDir: config.dataDir,
      mongodBinary: config.mongodBinary,
      logger,
      persistent: true,
    });
    this.embedded = embedded;
    logger.info(
      { engine: embedded.engine, pid: embedded.pid, dataDir: path.relative(process.cwd(), embedded.dataDir) || '.' },
      `embedded database started (${embedded.engine})`,
    );
    this.config = withDatabaseUri(config, withDatabaseName(embedded.uri, 'graphql_api'));
  }

  private logAddresses(url: string): void {
    const { logger } = this;
    logger.info({ url }, 'listening');
    logger.info(`GraphQL   ${url}/graphql`);
    logger.info(`Health    ${url}/health`);
    logger.info(`Readiness ${url}/ready`);
    if (this.config.playground) logger.info(`Playground ${url}/playground`);
  }

  private async failedToStart(err: unknown): Promise<void> {
    // The reason goes in the message itself: an operator reading the log must not need the stack.
    this.logger.fatal({ err }, `failed to start: ${err instanceof Error ? err.message : String(err)}`);
    await this.server?.stop().catch(() => undefined);
    await this.embedded?.stop().catch(() => undefined);
    process.exitCode = 1;
    setTimeout(() => process.exit(1), 200).unref();
  }

  /** The drain delay and timeout, plus a margin for the database and the spans. */
  private exitIfStuck(): void {
    const force = setTimeout(
      () => {
        this.logger.error('shutdown took too long: exiting');
        process.exit(1);
      },
      this.config.shutdownDelayMs + this.config.shutdownTimeoutMs + 10_000,
    );
    force.unref();
  }

  /**
   * Sends the spans still queued, so the last requests before a deploy are not lost. Bounded: an
   * unreachable collector must not turn a clean stop into a forced exit.
   */
  private async flushTracing(): Promise<void> {
    await Promise.race([
      this.tracing?.shutdown().catch((err: unknown) => this.logger.warn({ err }, 'tracing shutdown failed')),
      new Promise<void>((resolve) => setTimeout(resolve, TRACING_FLUSH_MS).unref()),
    ]);
  }
}

void main();
