import type { Context } from '../context';
import { UnauthenticatedError } from '../core/errors';
import { clientInfo } from '../core/http';
import type { Actor } from './user.service';

/** The signed-in caller as the one acting, for the audit log (shield guarantees a caller here). */
export function actorOf(ctx: Context): Actor {
  if (!ctx.user) throw new UnauthenticatedError();
  return { id: ctx.user.id, ...clientInfo(ctx.req), logger: ctx.logger };
}
