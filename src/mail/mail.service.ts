import type { Config } from '../core/config';
import { op } from '../infra/db';
import type { Logger } from '../core/logger';
import { MailMessageModel } from './mail.model';
import { renderMail } from './mail.templates';
import type { MailRequest } from './mail.message';
import { kickMailWorkers, mailWorkerState } from './mail.worker';

/**
 * Renders the message (links built from config), stores it in the outbox (awaited: durable
 * before the caller returns), then asks the worker to try it at once. Throws only if the outbox
 * insert fails (database), never because of SMTP. (A template without its data.token is a
 * programming error and throws too.)
 */
export async function queueMail(config: Config, request: MailRequest, logger: Logger): Promise<string> {
  const mail = renderMail(config, request);
  const now = new Date();
  const doc = await MailMessageModel.create({
    status: 'pending',
    template: request.template,
    userId: request.userId,
    ...mail,
    attempts: 0,
    nextAttemptAt: now,
    lockedUntil: new Date(0),
    lastError: null,
    createdAt: now,
  });
  logger.debug({ mailId: String(doc._id), template: request.template }, 'mail queued');
  kickMailWorkers();
  return String(doc._id);
}

/** For tests and shutdown: resolves when no outbox message is due or in flight in this process (or the timeout passes). */
export async function flushMail(timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const { inFlight, running } = mailWorkerState();
    // Without a worker nothing here would send a due message: only wait for what is in flight.
    if (inFlight === 0 && !(running && (await dueMessageExists()))) return;
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function dueMessageExists(): Promise<boolean> {
  const now = new Date();
  const due = await MailMessageModel.exists({
    status: 'pending',
    nextAttemptAt: op({ $lte: now }),
    lockedUntil: op({ $lte: now }),
  }).catch(() => null);
  return due !== null;
}

/** Messages waiting to be sent (not the ones that failed for good), for the backlog gauge. */
export function countMailBacklog(): Promise<number> {
  return MailMessageModel.countDocuments({ status: 'pending' }).exec();
}

/** Account deletion: the account's messages not sent yet (they may hold link tokens) go with it. */
export async function deleteMailOf(userId: string): Promise<number> {
  return (await MailMessageModel.deleteMany({ userId })).deletedCount;
}

/** One message not sent yet (a link undone). */
export async function deleteMailById(id: string): Promise<void> {
  await MailMessageModel.deleteOne({ _id: id });
}
