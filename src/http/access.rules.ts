import { allow, rule } from 'graphql-shield';
import type { Context } from '../core/context';
import { emailNotVerified, ForbiddenError, UnauthenticatedError } from '../core/errors';

/** No valid token came with the request: the client should sign in (not refresh). */
export const authenticationRequired = () =>
  new UnauthenticatedError('Authentication required', { reason: 'AUTHENTICATION_REQUIRED' });

/** The error for a refused caller: anonymous callers must sign in, signed-in ones may not. */
export function deniedError(ctx: Pick<Context, 'user'>): Error {
  return ctx.user ? new ForbiddenError() : authenticationRequired();
}

/** Any signed-in caller, verified address or not (e.g. to ask for a new verification link). */
export const isSignedIn = rule({ cache: 'contextual' })((_parent, _args, ctx: Context) =>
  ctx.user ? true : authenticationRequired(),
);

/** With REQUIRE_EMAIL_VERIFICATION, an account that has not proved its address may do nothing else. */
function unverified(ctx: Context): boolean {
  return ctx.config.account.requireEmailVerification && ctx.user?.emailVerified === false;
}

export const isAuthenticated = rule({ cache: 'contextual' })((_parent, _args, ctx: Context) => {
  if (!ctx.user) return authenticationRequired();
  return unverified(ctx) ? emailNotVerified() : true;
});

export const isAdmin = rule({ cache: 'contextual' })((_parent, _args, ctx: Context) => {
  if (!ctx.user) return authenticationRequired();
  if (unverified(ctx)) return emailNotVerified();
  return ctx.user.role === 'ADMIN' ? true : new ForbiddenError('Administrators only', { reason: 'ADMIN_ONLY' });
});

/**
 * graphql-shield keeps rule results on the context for the rest of the operation. A subscription
 * runs for a long time with one context: before each event, the results are dropped so every
 * rule is evaluated again against the caller as last checked.
 */
export function forgetRuleResults(ctx: object): void {
  // Not `delete`: the context keeps its shape (and its fast property access).
  if ('_shield' in ctx) (ctx as { _shield?: unknown })._shield = undefined;
}

export { allow };
