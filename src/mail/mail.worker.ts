import type { Config } from '../core/config';
import { atomically, op } from '../infra/db';
import type { Logger } from '../core/logger';
import { deliverMail, type Delivery } from './mail.delivery';
import { MailMessageModel, OUTBOX_KEY, type MailMessage } from './mail.model';
import { createMailTransport } from './mail.transport';

export interface MailWorkerOptions {
  /** How often due messages are looked for: retries, and messages left from before a restart. */
  pollIntervalMs?: number;
  /** Delay before the first retry; it doubles with each failed attempt up to backoffMaxMs. */
  backoffBaseMs?: number;
  backoffMaxMs?: number;
  /** How long a claim lasts: longer than the slowest send (SMTP_TIMEOUTS), so a claim never lapses mid-send. */
  lockMs?: number;
}

export const MAIL_WORKER_DEFAULTS: Required<MailWorkerOptions> = {
  pollIntervalMs: 5_000,
  // 1, 2, 4 … 32 min, then hourly: the 7 retries of the default 8 attempts span about 3 hours,
  // so an SMTP outage of an afternoon loses nothing.
  backoffBaseMs: 60_000,
  backoffMaxMs: 60 * 60_000,
  lockMs: 2 * 60_000,
};

/** How long to wait after the given number of failed attempts. */
export function retryDelayMs(
  attempts: number,
  options: Pick<Required<MailWorkerOptions>, 'backoffBaseMs' | 'backoffMaxMs'>,
): number {
  return Math.min(options.backoffBaseMs * 2 ** (attempts - 1), options.backoffMaxMs);
}

/** The workers of this process, so queueMail can wake them and flushMail can wait for them. */
const workers = new Set<{ kick(): void }>();
let inFlight = 0;

export function kickMailWorkers(): void {
  for (const worker of workers) worker.kick();
}

/** Runs of the send loop under way in this process, and whether any worker runs at all. */
export function mailWorkerState(): { inFlight: number; running: boolean } {
  return { inFlight, running: workers.size > 0 };
}

/**
 * Claims the oldest due message for `lockMs`, counting the attempt, with one conditional
 * write: on MongoDB two workers (in any number of processes) cannot both get it.
 */
export function claimMail(lockMs: number): Promise<MailMessage | null> {
  return atomically(OUTBOX_KEY, () => {
    const now = new Date();
    return MailMessageModel.findOneAndUpdate(
      { status: 'pending', nextAttemptAt: op({ $lte: now }), lockedUntil: op({ $lte: now }) },
      { $set: { lockedUntil: new Date(now.getTime() + lockMs) }, $inc: { attempts: 1 } },
      { returnDocument: 'after', sort: { nextAttemptAt: 1, _id: 1 } },
    ).lean<MailMessage>();
  });
}

/**
 * Sends what the outbox holds: at once when queueMail wakes it, and every pollIntervalMs for
 * retries and leftovers. Started by the mail module; stop() waits for the message being sent.
 */
export function startMailWorker(
  config: Config,
  logger: Logger,
  options: MailWorkerOptions = {},
): { stop(): Promise<void> } {
  const o = { ...MAIL_WORKER_DEFAULTS, ...options };
  const log = logger.child({ component: 'mail' });
  const worker = new MailWorker(o, {
    transport: createMailTransport(config, log),
    maxAttempts: config.mail.maxAttempts,
    retryDelayMs: (attempts) => retryDelayMs(attempts, o),
    log,
  });
  return { stop: () => worker.stop() };
}

/** One send loop at a time; a kick while it runs makes it look again before it ends. */
class MailWorker {
  private stopped = false;
  private running: Promise<void> | undefined;
  private again = false;
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly options: Required<MailWorkerOptions>,
    private readonly delivery: Delivery,
  ) {
    workers.add(this);
    this.timer = setInterval(() => this.kick(), options.pollIntervalMs).unref();
    this.kick();
  }

  kick(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    inFlight++;
    this.running = this.drain().finally(() => {
      inFlight--;
      this.running = undefined;
    });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    workers.delete(this);
    await this.running;
    this.delivery.transport.close();
  }

  /** Sends due messages until none is left, and again if a kick came meanwhile. */
  private async drain(): Promise<void> {
    do {
      this.again = false;
      while (!this.stopped) {
        const message = await this.claim();
        if (!message) break;
        await deliverMail(message, this.delivery);
      }
    } while (this.again && !this.stopped);
  }

  private claim(): Promise<MailMessage | null> {
    return claimMail(this.options.lockMs).catch((err: unknown) => {
      this.delivery.log.warn({ err }, 'mail outbox unavailable');
      return null;
    });
  }
}
