import { Types } from 'mongoose';
import { op } from '../infra/db';
import { BadUserInputError } from '../core/errors';
import type { Logger } from '../core/logger';
import { emailSchema, isObjectId } from '../core/validation';
import { decodeTimeCursor, encodeTimeCursor, pageSize, toConnection, type Connection } from '../core/pagination';
import { auditLevel, AuditEventType, isAuditEventType } from './audit-event-types';
import { AuditEvent, AuditEventModel, type AuditDetailValue } from './audit.model';
import type { AuditEventFilter } from './audit.inputs';

export { AuditEventType };

export interface AuditEventInput {
  type: AuditEventType;
  userId?: string | null;
  actorId?: string | null;
  ip?: string | null;
  userAgent?: string | null;
  email?: string | null;
  details?: Record<string, AuditDetailValue>;
}

// ---------------------------------------------------------------- sanitizing

/** Longest stored values: a user agent, an IPv6 address with zone (emails: emailSchema, 254). */
const MAX_USER_AGENT = 512;
const MAX_IP = 64;
const MAX_DETAIL_TEXT = 512;
const MAX_DETAILS = 20;
/** Plain identifiers only: no `$` or `.` (operators and paths in MongoDB), nothing a query could mistake. */
const DETAIL_KEY = /^[A-Za-z][A-Za-z0-9_]{0,63}$/;
/** Key fragments (lower case, without `_` and `-`) that suggest a credential. */
const SECRET_KEY_PARTS = [
  'password',
  'passwd',
  'pwd',
  'token',
  'authorization',
  'secret',
  'cookie',
  'credential',
  'apikey',
  'privatekey',
];
/**
 * Values that are credentials whatever their key: an Authorization header, a JWT, a refresh token
 * (`<session id>.<secret>`; session ids were 24 hex characters before, 22 base64url now).
 */
const SECRET_VALUES = [/^\s*(bearer|basic|digest)\s+\S/i, /eyJ[\w-]+\.[\w-]+\./, /[\w-]{22,24}\.[\w-]{43}/];

function looksSecret(key: string, value: AuditDetailValue): boolean {
  const normalized = key.toLowerCase().replace(/[_-]/g, '');
  if (SECRET_KEY_PARTS.some((part) => normalized.includes(part))) return true;
  return typeof value === 'string' && SECRET_VALUES.some((pattern) => pattern.test(value));
}

/** At most `max` UTF-16 units, without cutting a surrogate pair in half; empty becomes null. */
function text(value: unknown, max: number): string | null {
  if (value === null || value === undefined) return null;
  let s = String(value).trim();
  if (s.length > max) s = s.slice(0, /[\uD800-\uDBFF]/.test(s[max - 1]!) ? max - 1 : max);
  return s === '' ? null : s;
}

/**
 * The `email` of an event, only when it is an email address (the sign-up schema, so normalised
 * the same way): what someone typed into an email field may be their password, and the log is
 * kept for months and read by every admin. Anything else is not stored at all (an address cut
 * to length would be another address, so an overlong one is dropped too).
 */
function emailAddress(value: unknown): string | null {
  if (typeof value !== 'string') return null;
  const parsed = emailSchema.safeParse(value);
  return parsed.success ? parsed.data : null;
}

/** A user id as stored (lower-case hex); anything else is left for the model's validator to refuse. */
function id(value: unknown): string | null {
  return value === null || value === undefined ? null : String(value).trim().toLowerCase();
}

/** Keeps the flat, non-secret facts; returns the names of the keys it dropped. */
function cleanDetails(details: unknown): { kept: Record<string, AuditDetailValue>; dropped: string[] } {
  const kept: Record<string, AuditDetailValue> = {};
  const dropped: string[] = [];
  if (details === null || typeof details !== 'object' || Array.isArray(details)) return { kept, dropped };
  for (const [key, raw] of Object.entries(details)) {
    if (raw === undefined) continue;
    const value =
      raw === null || typeof raw === 'boolean' || (typeof raw === 'number' && Number.isFinite(raw))
        ? raw
        : typeof raw === 'string'
          ? (text(raw, MAX_DETAIL_TEXT) ?? '')
          : undefined;
    const ok = value !== undefined && DETAIL_KEY.test(key) && !looksSecret(key, value);
    if (!ok || Object.keys(kept).length >= MAX_DETAILS) {
      dropped.push(key.slice(0, 64));
      continue;
    }
    kept[key] = value;
  }
  return { kept, dropped };
}

// ---------------------------------------------------------------- recording

/** Writes still in flight; beyond the cap new events are only logged (a stalled database must not eat memory). */
const MAX_PENDING_WRITES = 1000;
const pending = new Set<Promise<void>>();

/**
 * Records a security event: one log line now, one document in the background. Never throws and
 * never makes the caller wait; a failed write is logged at error level with the event's id.
 * Only the fields named here are stored, so a caller cannot pass a password or token through.
 */
export function recordAuditEvent(event: AuditEventInput, logger: Logger): void {
  try {
    const { kept, dropped } = cleanDetails(event.details);
    const doc = {
      _id: new Types.ObjectId(),
      type: event.type,
      userId: id(event.userId),
      actorId: id(event.actorId),
      ip: text(event.ip, MAX_IP),
      userAgent: text(event.userAgent, MAX_USER_AGENT),
      email: emailAddress(event.email),
      details: kept,
      createdAt: new Date(),
    };
    const fields = { audit: doc.type, auditId: String(doc._id), userId: doc.userId, actorId: doc.actorId, ip: doc.ip };
    logger[auditLevel(doc.type)]({ ...fields, details: kept }, `audit: ${String(doc.type)}`);
    if (dropped.length > 0) logger.warn({ ...fields, droppedKeys: dropped }, 'audit event details dropped');

    if (pending.size >= MAX_PENDING_WRITES) {
      logger.error(fields, 'audit event not stored: too many writes pending');
      return;
    }
    const write = AuditEventModel.create(doc).then(
      () => undefined,
      (err: unknown) => logger.error({ ...fields, err }, 'audit event not stored'),
    );
    pending.add(write);
    void write.finally(() => pending.delete(write));
  } catch (err) {
    try {
      logger.error({ err }, 'audit event not recorded');
    } catch {
      // Nothing left to report to; the caller must still not fail.
    }
  }
}

/**
 * Resolves once every write started so far has finished, or after `timeoutMs`. For shutdown and
 * for tests that read what they just recorded.
 */
export async function flushAuditEvents(timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (pending.size > 0 && Date.now() < deadline) {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, deadline - Date.now());
    });
    await Promise.race([Promise.all([...pending]), timeout]);
    clearTimeout(timer);
  }
}

// ---------------------------------------------------------------- reading

function conditions(filter: AuditEventFilter | null | undefined): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  if (filter?.userId !== undefined && filter.userId !== null) {
    if (!isObjectId(filter.userId)) throw new BadUserInputError('userId', 'userId is not a valid id');
    out.push({ userId: filter.userId.toLowerCase() });
  }
  if (filter?.type !== undefined && filter.type !== null) {
    if (!isAuditEventType(filter.type)) {
      throw new BadUserInputError('type', 'type is not an audit event type');
    }
    out.push({ type: filter.type });
  }
  return out;
}

/** Strictly older than the cursor's (createdAt, _id): a total order, so nothing repeats or is skipped. */
function olderThan(after: string): Record<string, unknown> {
  const { time: createdAt, id: lastId } = decodeTimeCursor(after);
  return { $or: [{ createdAt: op({ $lt: createdAt }) }, { createdAt, _id: op({ $lt: lastId }) }] };
}

const cursorOf = (event: AuditEvent): string => encodeTimeCursor(event.createdAt, event._id);

/** Newest first, keyset-paged on (createdAt desc, _id desc). */
export async function listAuditEvents(args: {
  filter?: AuditEventFilter | null;
  first?: number | null;
  after?: string | null;
}): Promise<Connection<AuditEvent>> {
  const limit = pageSize(args.first);
  const where = conditions(args.filter);
  if (args.after) where.push(olderThan(args.after));
  const query = where.length === 0 ? {} : where.length === 1 ? where[0]! : { $and: where };
  const rows =
    limit === 0
      ? []
      : await AuditEventModel.find(query)
          .sort({ createdAt: -1, _id: -1 })
          .limit(limit + 1)
          .lean<AuditEvent[]>();
  // The connection has no totalCount: counting a large, growing log on every page is not worth it.
  return toConnection(rows, limit, -1, Boolean(args.after), cursorOf);
}

// ---------------------------------------------------------------- retention

/** Deletes events older than the retention (FerretDB has no TTL indexes); returns how many. */
export async function deleteExpiredAuditEvents(retentionDays: number, now = new Date()): Promise<number> {
  const cutoff = new Date(now.getTime() - retentionDays * 86_400_000);
  const res = await AuditEventModel.deleteMany({ createdAt: op({ $lt: cutoff }) });
  return res.deletedCount;
}
