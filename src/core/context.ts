import type { Request, Response } from 'express';
import { UnauthenticatedError } from './errors';
import type { Config } from './config';
import type { Logger } from './logger';
import type { User } from '../users/user.model';

/** Who is calling, as far as HTTP tells: for rate limits (TRUST_PROXY applied) and the audit log. */
export interface ClientInfo {
  ip?: string;
  userAgent?: string | null;
}

/**
 * What a service is told about the request it serves, besides what it works on: the
 * configuration, where the request came from, and the request's logger. Built once per request
 * (`callerOf` in a resolver, the authenticator, the OAuth route) and passed as one argument.
 */
export interface Caller {
  config: Config;
  client: ClientInfo;
  logger: Logger;
}

/**
 * A Caller whose logger is looked up only when something logs: a request's child logger is
 * built then, and most requests log nothing. A class, not an object literal with a getter: V8
 * makes such a literal a slow dictionary object, about 40 times dearer to create (346 against
 * 8 ns), which cost every authenticated request some 5 % of its CPU (docs/performance.md).
 */
export class CallerWithLazyLogger implements Caller {
  constructor(
    readonly config: Config,
    readonly client: ClientInfo,
    private readonly loggerOf: () => Logger,
  ) {}

  get logger(): Logger {
    return this.loggerOf();
  }
}

export interface AuthUser {
  id: string;
  email: string;
  role: 'USER' | 'ADMIN';
  /** The session the access token belongs to; absent for HTTP Basic. */
  sessionId?: string;
  /** Whether the account proved its address (REQUIRE_EMAIL_VERIFICATION limits what it may do). */
  emailVerified?: boolean;
  /**
   * The user's token version this credential was checked under (absent for API keys): a write made
   * for the caller is undone if it changed meanwhile (logoutAll, password change or reset).
   */
  tokenVersion?: number;
  /**
   * Set when the caller authenticated with an API key: it acts as its owner, limited to these
   * scopes, and with `orgId` only on that organization's items, with its owner's role there.
   */
  apiKey?: { id: string; scopes: string[]; orgId?: string };
}

/**
 * What every resolver and permission rule receives, over HTTP and WebSocket alike (built by
 * src/http/graphql-context.ts). Authentication only; no authorization here.
 */
export interface Context {
  /**
   * The HTTP request; over WebSocket, the upgrade request that opened the connection, which went
   * through no Express middleware (subscription resolvers read nothing of it).
   */
  req: Request;
  /** The HTTP response, absent over WebSocket: read it with `httpResponse(ctx)`. */
  res?: Response;
  config: Config;
  requestId: string;
  logger: Logger;
  /** The signed-in user, or null for an anonymous caller; over WebSocket, as the connection last checked it. */
  readonly user: AuthUser | null;
  /** How the caller authenticated, if at all. */
  readonly authMethod: 'bearer' | 'basic' | null;
  /**
   * The caller's user document as this request's authentication read it (view fields only), so
   * `me` needs no second read; absent when none was read (API keys, WebSocket operations).
   */
  readonly account?: User;
  /** Per-request DataLoaders, created lazily by the features that use them. */
  loaders: Map<string, unknown>;
}

/** The signed-in caller; UNAUTHENTICATED when there is none (a rule should have refused already). */
export function requireUser(ctx: Pick<Context, 'user'>): AuthUser {
  if (!ctx.user) throw new UnauthenticatedError();
  return ctx.user;
}

/**
 * Runs work once the HTTP response is over: sent, or the client gone. `close` may have fired
 * already (a client that hung up while the resolver awaited), and would never come again: then at once.
 */
export function afterResponse(ctx: Pick<Context, 'res'>): (run: () => void) => void {
  const res = httpResponse(ctx);
  return (run) => {
    if (res.closed) run();
    else res.once('close', run);
  };
}

/**
 * The HTTP response, for the resolvers that set or clear a cookie. Only queries and mutations
 * need one, and they run over HTTP only: WebSocket refuses them before execution.
 */
export function httpResponse(ctx: Pick<Context, 'res'>): Response {
  if (!ctx.res) throw new Error('This operation runs over HTTP only: there is no HTTP response to write to');
  return ctx.res;
}
