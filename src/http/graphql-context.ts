import { HeaderMap } from '@apollo/server';
import type { Request, Response } from 'express';
import { GraphQLError } from 'graphql';
import type { Config } from '../core/config';
import type { AuthUser, Context } from '../core/context';
import {
  DATABASE_UNAVAILABLE_MESSAGE,
  InternalServerError,
  isDatabaseUnavailable,
  isQueryTimeout,
  QueryTimeoutError,
  retryLater,
} from '../core/errors';
import type { Logger } from '../core/logger';
import { requestId } from './http';

/** Who the transport authenticated: the authenticator's answer for an HTTP request, or a WebSocket connection. */
export interface Authenticated {
  /** Read at every access: a WebSocket connection keeps it current as it checks the credential again. */
  readonly user: AuthUser | null;
  readonly method: Context['authMethod'];
  readonly account?: Context['account'];
}

/** What the transport knows of the request an operation runs for. */
export interface RequestFacts {
  req: Request;
  /** Absent over WebSocket: no HTTP response belongs to a subscription. */
  res?: Response;
  requestId: string;
}

/** Builds the context of one operation (HTTP request, or subscription over WebSocket). */
export type ContextFactory = (authenticated: Authenticated, facts: RequestFacts) => Context;

const AUTHENTICATED = Symbol('authenticated');

type OwnFields = Pick<Context, 'req' | 'res' | 'config' | 'requestId' | 'loaders'> & { [AUTHENTICATED]: Authenticated };

/**
 * One factory for both transports. The logger and the caller's fields are getters on the
 * context's prototype: the request's child logger is built only when a resolver logs, and the
 * caller is read as its transport keeps it. Own getters would not do: Apollo copies a context's
 * own properties for each operation, which would run them every time.
 */
export function createContextFactory(config: Config, logger: Logger): ContextFactory {
  const base = {
    get logger(): Logger {
      return (this as unknown as OwnFields).req.log ?? logger;
    },
    get user() {
      return (this as unknown as OwnFields)[AUTHENTICATED].user;
    },
    get authMethod() {
      return (this as unknown as OwnFields)[AUTHENTICATED].method;
    },
    get account() {
      return (this as unknown as OwnFields)[AUTHENTICATED].account;
    },
  };
  return (authenticated, facts) => {
    const fields: OwnFields = {
      req: facts.req,
      res: facts.res,
      config,
      requestId: facts.requestId,
      loaders: new Map(),
      [AUTHENTICATED]: authenticated,
    };
    return Object.assign(Object.create(base) as Context, fields);
  };
}

/**
 * Authentication needs the database; when that fails the request cannot proceed. Answer 503
 * with a generic message (the details go to the log), never a 500 with driver text.
 */
export function contextFailure(err: unknown, log: Logger): GraphQLError {
  if (err instanceof GraphQLError) return err;
  // A read of authentication ran past DB_QUERY_TIMEOUT_MS: 503, as for any other read.
  if (isQueryTimeout(err)) {
    log.warn({ err }, 'authentication: database read timed out');
    return retryLater(new QueryTimeoutError());
  }
  log.error({ err }, 'authentication failed unexpectedly');
  const unavailable = isDatabaseUnavailable(err);
  return new InternalServerError(unavailable ? DATABASE_UNAVAILABLE_MESSAGE : 'Internal server error', {
    http: { status: unavailable ? 503 : 500, headers: new HeaderMap(unavailable ? [['retry-after', '5']] : []) },
  });
}

/** Apollo's context function for HTTP requests. */
export type HttpContextFunction = (integration: { req: Request; res: Response }) => Promise<Context>;

/**
 * Apollo's context function for HTTP: authenticates the request (a refused credential is the
 * request's error) and builds its context.
 */
export function httpContext(
  authenticate: (req: Request) => Promise<Authenticated>,
  buildContext: ContextFactory,
  logger: Logger,
): HttpContextFunction {
  return async ({ req, res }) => {
    const authenticated = await authenticate(req).catch((err: unknown) => {
      throw contextFailure(err, req.log ?? logger);
    });
    return buildContext(authenticated, { req, res, requestId: requestId(req) });
  };
}
