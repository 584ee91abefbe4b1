import { allow, rule } from 'graphql-shield';
import type { Context } from '../context';
import { ForbiddenError, UnauthenticatedError } from '../core/errors';

/** The error for a refused caller: anonymous callers must sign in, signed-in ones may not. */
export function deniedError(ctx: Pick<Context, 'user'>): Error {
  return ctx.user ? new ForbiddenError() : new UnauthenticatedError();
}

export const isAuthenticated = rule({ cache: 'contextual' })((_parent, _args, ctx: Context) =>
  ctx.user ? true : new UnauthenticatedError(),
);

export const isAdmin = rule({ cache: 'contextual' })((_parent, _args, ctx: Context) => {
  if (!ctx.user) return new UnauthenticatedError();
  return ctx.user.role === 'ADMIN' ? true : new ForbiddenError('Administrators only');
});

export { allow };
