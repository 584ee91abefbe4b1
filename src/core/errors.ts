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

/** REQUIRE_EMAIL_VERIFICATION: the account must prove its address before signing in. */
export const emailNotVerified = () =>
  new ForbiddenError('Verify your email address first: follow the link we sent you', { reason: 'EMAIL_NOT_VERIFIED' });

export class BadUserInputError extends GraphQLError {
  constructor(field: string, message: string) {
    super(message, { extensions: { code: 'BAD_USER_INPUT', field } });
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
  constructor(retryAfterSeconds: number, message = 'The service is busy, try again shortly') {
    super(message, { extensions: { code: 'SERVICE_UNAVAILABLE', retryAfter: retryAfterSeconds } });
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

/** The HTTP status of the errors that ask the client to come back later (with `Retry-After`). */
export const RETRY_STATUS: Readonly<Record<string, 429 | 503>> = { TOO_MANY_REQUESTS: 429, SERVICE_UNAVAILABLE: 503 };

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
