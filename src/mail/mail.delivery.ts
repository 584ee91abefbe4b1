import { atomically } from '../infra/db';
import type { Logger } from '../core/logger';
import { MailMessageModel, OUTBOX_KEY, type MailMessage } from './mail.model';
import type { MailTransport } from './mail.transport';

const UNCLAIMED = new Date(0);

export interface Delivery {
  transport: MailTransport;
  /** MAIL_MAX_ATTEMPTS: after this many failed sends the message fails for good. */
  maxAttempts: number;
  /** How long to wait after the given number of failed attempts. */
  retryDelayMs(attempts: number): number;
  log: Logger;
}

/**
 * Sends one claimed message and records the outcome: removed once sent, failed for good when
 * no attempt is left, else due again after the backoff. Never throws: an outbox write that
 * fails is logged, and the claim lapses.
 */
export async function deliverMail(message: MailMessage, delivery: Delivery): Promise<void> {
  const failure = await send(message, delivery.transport);
  if (failure === undefined) return removeSent(message, delivery.log);
  const lastError = describeError(failure);
  if (message.attempts >= delivery.maxAttempts) return failForGood(message, lastError, delivery.log);
  return scheduleRetry(message, lastError, delivery.retryDelayMs(message.attempts), delivery.log);
}

/** The send's error, or undefined once the SMTP server took the message. */
async function send(message: MailMessage, transport: MailTransport): Promise<unknown> {
  try {
    if (message.text === undefined || message.html === undefined) throw new Error('message has no body');
    await transport.send({ to: message.to, subject: message.subject, text: message.text, html: message.html });
    return undefined;
  } catch (err) {
    return err ?? new Error('send failed');
  }
}

async function removeSent(message: MailMessage, log: Logger): Promise<void> {
  const mailId = String(message._id);
  // The body holds link tokens: the sent message leaves the database. If this delete fails the
  // message is sent again once the claim lapses (at-least-once).
  await MailMessageModel.deleteOne({ _id: message._id }).catch((err: unknown) =>
    log.warn({ err, mailId }, 'mail sent, but not removed from the outbox; it will be sent again'),
  );
  log.info({ mailId, template: message.template, attempts: message.attempts }, 'mail sent');
}

async function failForGood(message: MailMessage, lastError: string, log: Logger): Promise<void> {
  const mailId = String(message._id);
  await atomically(OUTBOX_KEY, () =>
    MailMessageModel.updateOne(claimOf(message), {
      $set: { status: 'failed', lastError, lockedUntil: UNCLAIMED },
      $unset: { text: 1, html: 1 },
    }),
  ).catch((err: unknown) => log.warn({ err, mailId }, 'could not mark mail failed'));
  log.error(
    { mailId, template: message.template, attempts: message.attempts, lastError },
    'mail failed for good: no attempts left (MAIL_MAX_ATTEMPTS)',
  );
}

async function scheduleRetry(message: MailMessage, lastError: string, delay: number, log: Logger): Promise<void> {
  const mailId = String(message._id);
  await atomically(OUTBOX_KEY, () =>
    MailMessageModel.updateOne(claimOf(message), {
      $set: { nextAttemptAt: new Date(Date.now() + delay), lockedUntil: UNCLAIMED, lastError },
    }),
  ).catch((err: unknown) => log.warn({ err, mailId }, 'could not schedule the mail retry; the claim will lapse'));
  log.warn(
    { mailId, template: message.template, attempts: message.attempts, retryInMs: delay, lastError },
    'mail not sent, will retry',
  );
}

/** Matches the message only while this worker's claim holds: a lapsed claim is another worker's. */
function claimOf(message: MailMessage) {
  return { _id: message._id, lockedUntil: message.lockedUntil };
}

/** Code and message of a send failure, with any URL (which could hold SMTP credentials) removed. */
function describeError(err: unknown): string {
  const e = err as { code?: unknown; responseCode?: unknown; message?: unknown };
  const code = [e.code, e.responseCode].filter((c) => c !== undefined).join(' ');
  const message = String(e.message ?? err).replace(/\b[a-z][a-z0-9+.-]*:\/\/\S+/gi, '[url]');
  return `${code ? `${code}: ` : ''}${message}`.slice(0, 500);
}
