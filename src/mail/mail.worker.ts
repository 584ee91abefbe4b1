import type { Config } from '../core/config';
import { atomically, op } from '../infra/db';
import type { Logger } from '../core/logger';
import { MailMessageModel, type MailMessage } from './mail.model';
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

/** Every claim goes through one key: on FerretDB the claim is read-then-write (see atomically). */
const OUTBOX_KEY = 'mail_outbox';
const UNCLAIMED = new Date(0);

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

/** Code and message of a send failure, with any URL (which could hold SMTP credentials) removed. */
function describeError(err: unknown): string {
  const e = err as { code?: unknown; responseCode?: unknown; message?: unknown };
  const code = [e.code, e.responseCode].filter((c) => c !== undefined).join(' ');
  const message = String(e.message ?? err).replace(/\b[a-z][a-z0-9+.-]*:\/\/\S+/gi, '[url]');
  return `${code ? `${code}: ` : ''}${message}`.slice(0, 500);
}

/**
 * Sends what the outbox holds: at once when queueMail wakes it, and every pollIntervalMs for
 * retries and leftovers. Started by createServer; stop() waits for the message being sent.
 */
export function startMailWorker(
  config: Config,
  logger: Logger,
  options: MailWorkerOptions = {},
): { stop(): Promise<void> } {
  const o = { ...MAIL_WORKER_DEFAULTS, ...options };
  const log = logger.child({ component: 'mail' });
  const transport = createMailTransport(config, log);
  let stopped = false;
  let running: Promise<void> | undefined;
  let again = false;

  async function deliver(message: MailMessage): Promise<void> {
    const mailId = String(message._id);
    let failure: unknown;
    try {
      if (message.text === undefined || message.html === undefined) throw new Error('message has no body');
      await transport.send({ to: message.to, subject: message.subject, text: message.text, html: message.html });
    } catch (err) {
      failure = err ?? new Error('send failed');
    }
    if (failure === undefined) {
      // The body holds link tokens: the sent message leaves the database. If this delete fails the
      // message is sent again once the claim lapses (at-least-once).
      await MailMessageModel.deleteOne({ _id: message._id }).catch((err: unknown) =>
        log.warn({ err, mailId }, 'mail sent, but not removed from the outbox; it will be sent again'),
      );
      log.info({ mailId, template: message.template, attempts: message.attempts }, 'mail sent');
      return;
    }
    const lastError = describeError(failure);
    const mine = { _id: message._id, lockedUntil: message.lockedUntil };
    if (message.attempts >= config.mail.maxAttempts) {
      await atomically(OUTBOX_KEY, () =>
        MailMessageModel.updateOne(mine, {
          $set: { status: 'failed', lastError, lockedUntil: UNCLAIMED },
          $unset: { text: 1, html: 1 },
        }),
      ).catch((err: unknown) => log.warn({ err, mailId }, 'could not mark mail failed'));
      log.error(
        { mailId, template: message.template, attempts: message.attempts, lastError },
        'mail failed for good: no attempts left (MAIL_MAX_ATTEMPTS)',
      );
      return;
    }
    const delay = retryDelayMs(message.attempts, o);
    await atomically(OUTBOX_KEY, () =>
      MailMessageModel.updateOne(mine, {
        $set: { nextAttemptAt: new Date(Date.now() + delay), lockedUntil: UNCLAIMED, lastError },
      }),
    ).catch((err: unknown) => log.warn({ err, mailId }, 'could not schedule the mail retry; the claim will lapse'));
    log.warn(
      { mailId, template: message.template, attempts: message.attempts, retryInMs: delay, lastError },
      'mail not sent, will retry',
    );
  }

  async function drain(): Promise<void> {
    do {
      again = false;
      while (!stopped) {
        const message = await claimMail(o.lockMs).catch((err: unknown) => {
          log.warn({ err }, 'mail outbox unavailable');
          return null;
        });
        if (!message) break;
        await deliver(message);
      }
    } while (again && !stopped);
  }

  const worker = {
    kick() {
      if (stopped) return;
      if (running) {
        again = true;
        return;
      }
      inFlight++;
      running = drain().finally(() => {
        inFlight--;
        running = undefined;
      });
    },
  };
  workers.add(worker);
  const timer = setInterval(() => worker.kick(), o.pollIntervalMs).unref();
  worker.kick();

  return {
    async stop() {
      stopped = true;
      clearInterval(timer);
      workers.delete(worker);
      await running;
      transport.close();
    },
  };
}
