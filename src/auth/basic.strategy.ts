import { GraphQLError } from 'graphql';
import type { Caller } from '../core/context';
import { retryLater, ServiceUnavailableError, TooManyRequestsError } from '../core/errors';
import type { AuthStrategy, Authenticated, CredentialRefusal } from '../core/module';
import { limitAttempt } from '../infra/rate-limit';
import { authUserOf } from '../users/user.actor';
import type { User } from '../users/user.model';
import { userView } from '../users/user.profile';
import { invalidCredentials } from './auth.challenge';
import { checkCurrentUser } from './auth.service';
import { MFA_REQUIRED, normalizeEmail, verifyCredentials } from './credentials.service';

/** Refusals of the credentials themselves; anything else (the database away) is not a 401. */
const CREDENTIAL_CODES = new Set(['UNAUTHENTICATED', 'FORBIDDEN', 'BAD_USER_INPUT']);

/**
 * `Authorization: Basic <email:password>`: a password sign-in on every request, under the same
 * rate limits and lockout as `login`. Every Basic login no other strategy recognised is taken
 * for one. The check is costly (a password hash), so the authenticator may remember it.
 */
export const passwordStrategy: AuthStrategy = {
  name: 'password',
  fallback: true,
  async authenticate(credentials, caller) {
    if (credentials.scheme !== 'basic') return undefined;
    const { name, secret } = credentials.login;
    const user = await signIn(name, secret, caller);
    const id = String(user._id);
    const { tokenVersion, email } = user;
    return {
      user: authUserOf(id, user),
      account: userView(user),
      expiresAt: null,
      key: `basic:${id}:${tokenVersion}:${email}`,
      remember: true,
      // Only what names the account is kept for later, never the password.
      revalidate: () => accountStanding(id, tokenVersion, email),
    };
  },
};

/** Checks the password as `login` does; a refusal becomes a 401 with a Basic challenge. */
async function signIn(email: string, password: string, caller: Caller): Promise<User> {
  try {
    // The same per-IP and per-account limits as `login` (only checks not remembered count).
    await limitAttempt(caller.config, 'login', caller.client.ip, normalizeEmail(email));
    return await verifyCredentials({ email, password }, caller, 'basic');
  } catch (err) {
    if (err instanceof TooManyRequestsError || err instanceof ServiceUnavailableError) throw retryLater(err);
    // The password was right but the account has TOTP on: the message says to use an API key.
    if (err instanceof GraphQLError && err.extensions.reason === MFA_REQUIRED)
      throw invalidCredentials('Basic', err.message, MFA_REQUIRED);
    if (err instanceof GraphQLError && CREDENTIAL_CODES.has(String(err.extensions.code)))
      throw invalidCredentials('Basic', 'Invalid Basic credentials');
    throw err;
  }
}

/**
 * Whether the account still stands as it did when the password was checked: no new password
 * check, so neither a remembered check nor a long-lived connection counts as sign-in attempts.
 */
async function accountStanding(
  id: string,
  tokenVersion: number,
  email: string,
): Promise<Authenticated | CredentialRefusal> {
  return (await checkCurrentUser(id, tokenVersion, email)) ?? 'SESSION_REVOKED';
}
