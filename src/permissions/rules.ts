import { allow, rule } from 'graphql-shield';
import type { Context } from '../context';
import { emailNotVerified, ForbiddenError, UnauthenticatedError } from '../core/errors';

/** The error for a refused caller: anonymous callers must sign in, signed-in ones may not. */
export function deniedError(ctx: Pick<Context, 'user'>): Error {
  return ctx.user ? new ForbiddenError() : new UnauthenticatedError();
}

/** Any signed-in caller, verified address or not (e.g. to ask for a new verification link). */
export const isSignedIn = rule({ cache: 'contextual' })((_parent, _args, ctx: Context) =>
  ctx.user ? true : new UnauthenticatedError(),
);

/** With REQUIRE_EMAIL_VERIFICATION, an account that has not proved its address may do nothing else. */
function unverified(ctx: Context): boolean {
  return ctx.config.account.requireEmailVerification && ctx.user?.emailVerified === false;
}

export const isAuthenticated = rule({ cache: 'contextual' })((_parent, _args, ctx: Context) => {
  if (!ctx.user) return new UnauthenticatedError();
  return unverified(ctx) ? emailNotVerified() : true;
});

export const isAdmin = rule({ cache: 'contextual' })((_parent, _args, ctx: Context) => {
  if (!ctx.user) return new UnauthenticatedError();
  if (unverified(ctx)) return emailNotVerified();
  return ctx.user.role === 'ADMIN' ? true : new ForbiddenError('Administrators only');
});

export { allow };
