import type { AuthUser, Context } from '../core/context';
import { UnauthenticatedError } from '../core/errors';
import { clientInfo } from '../http/http';
import type { User } from './user.model';
import type { Actor } from './user.service';

/** The signed-in caller as the one acting, for the audit log (shield guarantees a caller here). */
export function actorOf(ctx: Context): Actor {
  if (!ctx.user) throw new UnauthenticatedError();
  return { id: ctx.user.id, tokenVersion: ctx.user.tokenVersion, ...clientInfo(ctx.req), logger: ctx.logger };
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
