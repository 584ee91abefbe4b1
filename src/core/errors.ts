import { HeaderMap } from '@apollo/server';
import { GraphQLError } from 'graphql';

/** One class per public error code. Clients branch on `extensions.code`, never on messages. */

export class UnauthenticatedError extends GraphQLError {
  constructor(message = 'Authentication required', extensions: Record<string, unknown> = {}) {
    super(message, { extensions: { code: 'UNAUTHENTICATED', ...extensions } });
  }
}

export class ForbiddenError extends GraphQLError {
  constructor(message = 'Not allowed', extensions: Record<string, unknown> = {}) {
    super(message, { extensions: { code: 'FORBIDDEN', ...extensions } });
  }
}

/** A write for an account that was deleted or disabled while the request ran: sign in again. */
export const accountGone = () =>
  new UnauthenticatedError('This account was disabled or deleted', { reason: 'SESSION_REVOKED' });

/** The right credential of an account an admin has disabled. */
export const accountDisabled = () => new ForbiddenError('This account is disabled', { reason: 'ACCOUNT_DISABLED' });

/** REQUIRE_EMAIL_VERIFICATION: the account must prove its address before signing in. */
export const emailNotVerified = () =>
  new ForbiddenError('Verify your email address first: follow the link we sent you', { reason: 'EMAIL_NOT_VERIFIED' });

/** One invalid value: `field` is its path in the argument or input (`name`, `tags.2`). */
export interface FieldProblem {
  field: string;
  message: string;
}

/**
 * Throw sites write sentences that start with the field ("id is not a valid id"); the per-field
 * message leaves the name out, since a form shows it next to the field already.
 */
function withoutFieldName(field: string, message: string): string {
  const name = field.split('.')[0]!;
  const rest = message.slice(name.length);
  if (message.slice(0, name.length).toLowerCase() !== name.toLowerCase()) return message;
  const match = /^:?\s+(.+)$/s.exec(rest);
  return match ? match[1]! : message;
}

/**
 * `extensions.fields` lists every problem found; `extensions.field` is the argument or input
 * field of the first one (as before `fields` existed), for clients that read only one.
 */
export class BadUserInputError extends GraphQLError {
  constructor(
    field: string,
    message: string,
    fields: FieldProblem[] = [{ field, message: withoutFieldName(field, message) }],
  ) {
    super(message, { extensions: { code: 'BAD_USER_INPUT', field, fields } });
  }

  /** Every problem at once; the message reads "name must not be empty; price must be >= 0". */
  static of(problems: FieldProblem[]): BadUserInputError {
    const message = problems.map((p) => `${p.field} ${p.message}`).join('; ');
    return new BadUserInputError(problems[0]!.field.split('.')[0]!, message, problems);
  }
}

export class NotFoundError extends GraphQLError {
  constructor(message = 'Not found') {
    super(message, { extensions: { code: 'NOT_FOUND' } });
  }
}

export class ConflictError extends GraphQLError {
  constructor(message: string, extensions: Record<string, unknown> = {}) {
    super(message, { extensions: { code: 'CONFLICT', ...extensions } });
  }
}

export class TooManyRequestsError extends GraphQLError {
  readonly retryAfterSeconds: number;
  constructor(retryAfterSeconds: number, message = 'Too many attempts, try again later') {
    super(message, { extensions: { code: 'TOO_MANY_REQUESTS', retryAfter: retryAfterSeconds } });
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

/**
 * The service is overloaded or a dependency is away for a moment: HTTP 503 with `Retry-After`.
 * Clients should retry after the given number of seconds.
 */
export class ServiceUnavailableError extends GraphQLError {
  readonly retryAfterSeconds: number;
  constructor(
    retryAfterSeconds: number,
    message = 'The service is busy, try again shortly',
    extensions: Record<string, unknown> = {},
  ) {
    super(message, { extensions: { code: 'SERVICE_UNAVAILABLE', retryAfter: retryAfterSeconds, ...extensions } });
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

/**
 * A database read ran past its time limit (DB_QUERY_TIMEOUT_MS): SERVICE_UNAVAILABLE with
 * `extensions.reason: "QUERY_TIMEOUT"`. The read may be too broad for the data (a search over
 * everything) or the database busy: ask for less, or come back later.
 */
export class QueryTimeoutError extends ServiceUnavailableError {
  constructor() {
    super(5, 'The request took too long in the database: ask for less (a narrower filter) or try again later', {
      reason: 'QUERY_TIMEOUT',
    });
  }
}

/**
 * True for a database command stopped by its time limit: MongoDB's and FerretDB's
 * MaxTimeMSExpired (code 50), or the driver's own operation timeout. Follows `originalError`
 * (a GraphQL error around it) and `cause`.
 */
export function isQueryTimeout(err: unknown): boolean {
  type Cause = { name?: unknown; code?: unknown; codeName?: unknown; originalError?: unknown; cause?: unknown };
  for (let e = err as Cause | undefined, depth = 0; e && typeof e === 'object' && depth < 8; depth++) {
    if (e.codeName === 'MaxTimeMSExpired' || e.name === 'MongoOperationTimeoutError') return true;
    if (e.code === 50 && typeof e.name === 'string' && e.name.startsWith('Mongo')) return true;
    e = (e.originalError ?? e.cause) as Cause | undefined;
  }
  return false;
}

/** The HTTP status of the errors that ask the client to come back later (with `Retry-After`). */
export const RETRY_STATUS: Readonly<Record<string, 429 | 503>> = { TOO_MANY_REQUESTS: 429, SERVICE_UNAVAILABLE: 503 };

/**
 * The same error with its HTTP status (429 or 503) and `Retry-After`, for errors raised before
 * Apollo runs an operation (authentication, plugins), which would otherwise be a 500.
 */
export function retryLater(err: TooManyRequestsError | ServiceUnavailableError): GraphQLError {
  const status = RETRY_STATUS[String(err.extensions.code)];
  return new GraphQLError(err.message, {
    extensions: {
      ...err.extensions,
      retryAfter: err.retryAfterSeconds,
      http: { status, headers: new HeaderMap([['retry-after', String(err.retryAfterSeconds)]]) },
    },
  });
}

/** A failure on our side, with a message written for clients (never driver or file names). */
export class InternalServerError extends GraphQLError {
  constructor(message = 'Internal server error', extensions: Record<string, unknown> = {}) {
    super(message, { extensions: { code: 'INTERNAL_SERVER_ERROR', ...extensions } });
  }
}

/**
 * A unique-index violation: MongoDB's E11000, which FerretDB also gives on inserts. On updates
 * (findAndModify) FerretDB v1 answers code 1 with SQLite's "UNIQUE constraint failed" instead.
 */
export function isDuplicateKeyError(err: unknown): boolean {
  if (typeof err !== 'object' || err === null) return false;
  const { code, message } = err as { code?: unknown; message?: unknown };
  return code === 11000 || (code === 1 && typeof message === 'string' && message.includes('UNIQUE constraint failed'));
}

const UNAVAILABLE = new Set([
  'MongoServerSelectionError',
  'MongooseServerSelectionError',
  'MongoNetworkError',
  'MongoNetworkTimeoutError',
  'MongoNotConnectedError',
  'MongoTopologyClosedError',
  'MongoPoolClearedError',
]);

/** True for errors that mean "the database cannot be reached", rather than a bug. */
export function isDatabaseUnavailable(err: unknown): boolean {
  for (let e = err as { name?: string; message?: string; cause?: unknown } | undefined; e; e = e.cause as typeof e) {
    if (e.name && UNAVAILABLE.has(e.name)) return true;
    if (typeof e.message === 'string' && /buffering timed out|Client must be connected/.test(e.message)) return true;
  }
  return false;
}

export const DATABASE_UNAVAILABLE_MESSAGE = 'The service is temporarily unavailable; try again shortly';

/** Codes that are meant for clients: everything else is an unexpected failure. */
export const CLIENT_CODES: ReadonlySet<string> = new Set([
  'UNAUTHENTICATED',
  'FORBIDDEN',
  'BAD_USER_INPUT',
  'NOT_FOUND',
  'CONFLICT',
  'TOO_MANY_REQUESTS',
  'SERVICE_UNAVAILABLE',
  'GRAPHQL_PARSE_FAILED',
  'GRAPHQL_VALIDATION_FAILED',
  'BAD_REQUEST',
  'OPERATION_RESOLUTION_FAILURE',
  'PERSISTED_QUERY_NOT_FOUND',
  'PERSISTED_QUERY_NOT_SUPPORTED',
  'PERSISTED_QUERY_HASH_MISMATCH',
  'TRUSTED_DOCUMENT_REQUIRED',
]);

/** Every code an error response may carry: the client codes and INTERNAL_SERVER_ERROR. */
export const ERROR_CODES: readonly string[] = [...CLIENT_CODES, 'INTERNAL_SERVER_ERROR'];
