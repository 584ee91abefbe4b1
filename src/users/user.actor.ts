import { CallerWithLazyLogger, requireUser, type AuthUser, type Caller, type Context } from '../core/context';
import { clientInfo } from '../http/http';
import type { User } from './user.model';
import type { Actor } from './user.service';

/** The signed-in caller as the one acting, for the audit log (shield guarantees a caller here). */
export function actorOf(ctx: Context): Actor {
  const { id, tokenVersion } = requireUser(ctx);
  return { id, tokenVersion, ...clientInfo(ctx.req), logger: ctx.logger };
}

/**
 * The request's facts a service is given (configuration, client, logger). The logger is read
 * only when something logs, so a request that logs nothing never builds its child logger.
 */
export function callerOf(ctx: Context): Caller {
  return new CallerWithLazyLogger(ctx.config, clientInfo(ctx.req), () => ctx.logger);
}

/**
 * The caller a user document signs in as (Bearer, Basic, an API key): role and verification as
 * stored now, so a change applies on the caller's next request.
 */
export function authUserOf(
  id: string,
  user: Pick<User, 'email' | 'role' | 'emailVerified'> & Partial<Pick<User, 'tokenVersion'>>,
  extra: Pick<AuthUser, 'sessionId' | 'apiKey'> = {},
): AuthUser {
  const { email, role, emailVerified, tokenVersion } = user;
  // An API key's owner is read without its token version: keys do not depend on it.
  return { id, email, role, emailVerified: !!emailVerified, ...(extra.apiKey ? {} : { tokenVersion }), ...extra };
}
