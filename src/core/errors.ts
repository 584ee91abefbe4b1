import { GraphQLError } from 'graphql';

/** One class per public error code. Clients branch on `extensions.code`, never on messages. */

export class UnauthenticatedError extends GraphQLError {
  constructor(message = 'Authentication required', extensions: Record<string, unknown> = {}) {
    super(message, { extensions: { code: 'UNAUTHENTICATED', ...extensions } });
  }
}

export class ForbiddenError extends GraphQLError {
  constructor(message = 'Not allowed') {
    super(message, { extensions: { code: 'FORBIDDEN' } });
  }
}

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

export class InternalServerError extends GraphQLError {
  constructor(message = 'Internal server error') {
    super(message, { extensions: { code: 'INTERNAL_SERVER_ERROR' } });
  }
}

/** MongoDB duplicate-key error (E11000), from either engine. */
export function isDuplicateKeyError(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === 11000;
}
