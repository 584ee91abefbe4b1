import type { Config } from '../core/config';
import type { Logger } from '../core/logger';
import { deleteExpiredCounters } from '../infra/rate-limit';
import type { MailWorkerOptions } from '../mail/mail.worker';
import { MODULES } from './modules';

/** What runs besides requests: housekeeping and the modules' jobs (the mail worker). */
export interface BackgroundWork {
  stopHousekeeping(): void;
  /** Stops the jobs, the last started first. */
  stopJobs(): Promise<void>;
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

export function startBackgroundWork(
  config: Config,
  logger: Logger,
  settings: { mail?: MailWorkerOptions },
): BackgroundWork {
  const housekeeping = startHousekeeping(config, logger);
  const jobs = MODULES.flatMap((m) => m.start?.({ config, logger, settings }) ?? []);
  return {
    stopHousekeeping: () => clearInterval(housekeeping),
    async stopJobs() {
      for (const job of [...jobs].reverse()) await job.stop();
    },
  };
}

/**
 * Work answered for but not yet written reaches the database, the features that build on
 * others first (a password reset's audit event is flushed after the reset).
 */
export async function flushModules(config: Config): Promise<void> {
  for (const m of [...MODULES].reverse()) await m.flush?.(config);
}
