import type { mongo } from 'mongoose';
import { auditEventLabels } from '../audit/audit-event-types';
import { ensureAdmin } from '../auth/admin-bootstrap';
import type { Config } from '../core/config';
import type { Logger } from '../core/logger';
import { connectDatabase, disconnectDatabase, syncIndexes } from '../infra/db';
import { localEventBus, setEventBus, type EventBus } from '../infra/events';
import { RATE_LIMITS } from '../infra/rate-limit';
import { redisEventBus } from '../infra/redis-events';
import { ERROR_CODE_LABELS } from '../observability/metrics.plugin';
import { watchPool } from '../observability/metrics.pool';
import { createMetrics, currentMetrics, setMetrics, type Metrics } from '../observability/metrics.registry';
import { listenMetrics } from '../observability/metrics.server';

/** The process's metrics while the server runs; `metrics` is undefined when they are off. */
export interface RunningMetrics {
  readonly metrics: Metrics | undefined;
  /** The Prometheus scrape URL, when metrics have a listener. */
  readonly url: string | undefined;
  /** Reports the driver's connection pool until stop(). */
  watchPool(client: mongo.MongoClient): void;
  /** Stops watching, closes the listener and leaves no metrics set for the process. */
  stop(): Promise<void>;
}

/**
 * METRICS_PORT=0 turns metrics off: no listener, and nothing counted on the request path.
 * `port` (tests) overrides METRICS_PORT, and 0 there picks a free port. Runs first, so a busy
 * port stops the start before anything else runs.
 */
export async function startMetrics(config: Config, port?: number): Promise<RunningMetrics> {
  const metricsPort = port ?? config.metrics.port;
  const metrics =
    port !== undefined || metricsPort !== 0
      ? createMetrics({ errorCodes: ERROR_CODE_LABELS, authEvents: auditEventLabels(), rateLimits: RATE_LIMITS })
      : undefined;
  const listener = metrics && (await listenMetrics(metrics, metricsPort, config.metrics.host));
  setMetrics(metrics);
  const unwatch: Array<() => void> = [];
  return {
    metrics,
    url: listener?.url,
    watchPool(client) {
      if (metrics) unwatch.push(watchPool(metrics, client));
    },
    async stop() {
      for (const stopWatching of unwatch.splice(0)) stopWatching();
      try {
        await listener?.close();
      } finally {
        if (currentMetrics() === metrics) setMetrics(undefined);
      }
    },
  };
}

/**
 * Connects, brings the indexes up to date and makes sure the bootstrap admin exists. A refused
 * start leaves nothing open behind it (tests start again in the same process), and a failing
 * clean-up step hides neither the reason nor the other steps.
 */
export async function openDatabase(
  config: Config,
  logger: Logger,
  options: { monitorCommands?: boolean },
  metrics: RunningMetrics,
): Promise<void> {
  const db = await connectDatabase(config.mongodbUri!, logger, {
    monitorCommands: options.monitorCommands,
    queryTimeoutMs: config.dbQueryTimeoutMs,
  });
  metrics.watchPool(db.connection.getClient());
  try {
    await syncIndexes();
    await ensureAdmin(config, logger);
  } catch (err) {
    await Promise.allSettled([disconnectDatabase(), metrics.stop()]);
    throw err;
  }
}

/** Item changes and session revocations go through this bus to every instance's subscribers. */
export function startEventBus(config: Config, logger: Logger): EventBus {
  const bus = config.realtime.redisUrl ? redisEventBus(config.realtime.redisUrl, logger) : localEventBus();
  setEventBus(bus);
  return bus;
}

/** Closes the bus; the process is left with an in-process one (tests start again in the same process). */
export async function stopEventBus(bus: EventBus): Promise<void> {
  await bus.close();
  setEventBus(localEventBus());
}

/** The default links of account mail point at the self-hosted account pages, served with the playground. */
export function warnOnUnservedAccountLinks(config: Config, logger: Logger): void {
  if (config.isProduction && !config.playground && config.mail.links.verifyEmail.startsWith(config.mail.publicUrl))
    logger.warn(
      'account links point at /account/… pages this server does not serve: set PLAYGROUND=true or VERIFY_EMAIL_URL, RESET_PASSWORD_URL and CONFIRM_EMAIL_CHANGE_URL',
    );
}
