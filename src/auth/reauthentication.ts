import type { AuthUser, Caller } from '../core/context';
import { BadUserInputError, ForbiddenError } from '../core/errors';
import { op } from '../infra/db';
import type { User } from '../users/user.model';
import { proveCurrentPassword, proveSecondFactor, settleAttempt, type PasswordCheck } from './credentials.service';
import { SessionModel } from './session.model';
import type { SignInVia } from './sign-in';
import { SESSION_ID } from './tokens';

/** The description of the optional `currentPassword` argument of every sensitive change. */
export const REAUTH_ARGUMENT =
  'My password. Optional inside the re-authentication window of this session (see reauthenticate); with neither, FORBIDDEN with reason REAUTHENTICATION_REQUIRED.';

/** `extensions.reason` of a sensitive change asked for with neither the password nor a recent reauthenticate. */
export const REAUTHENTICATION_REQUIRED = 'REAUTHENTICATION_REQUIRED';

export function reauthenticationRequired(): ForbiddenError {
  return new ForbiddenError(
    'This change needs a recent proof that it is you: send currentPassword, or call reauthenticate first',
    { reason: REAUTHENTICATION_REQUIRED },
  );
}

/**
 * Opens the re-authentication window of the caller's session (the access token's), for
 * REAUTH_WINDOW_SECONDS. Only a session has one: HTTP Basic and API keys have none to open.
 */
export async function openReauthWindow(me: AuthUser, caller: Caller): Promise<Date> {
  const until = new Date(Date.now() + caller.config.reauthWindowSeconds * 1000);
  const opened = me.sessionId
    ? await SessionModel.updateOne(
        { _id: me.sessionId, userId: me.id, revokedAt: null },
        { $set: { reauthenticatedUntil: until } },
      )
    : null;
  if (!opened?.matchedCount) throw sessionRequired();
  return until;
}

export function sessionRequired(): ForbiddenError {
  return new ForbiddenError('Only a signed-in session (an access token) can be re-authenticated', {
    reason: 'SESSION_REQUIRED',
  });
}

/** Whether the caller's own session is inside its re-authentication window. */
export async function isReauthenticated(me: AuthUser): Promise<boolean> {
  if (!me.sessionId || !SESSION_ID.test(me.sessionId)) return false;
  const open = await SessionModel.exists({
    _id: me.sessionId,
    userId: me.id,
    revokedAt: null,
    reauthenticatedUntil: op({ $gt: new Date() }),
  });
  return open !== null;
}

/** The caller's session is inside its re-authentication window, else FORBIDDEN REAUTHENTICATION_REQUIRED. */
export async function assertReauthenticated(me: AuthUser): Promise<void> {
  if (!(await isReauthenticated(me))) throw reauthenticationRequired();
}

/**
 * What a sensitive change takes: a right `currentPassword` (checked as before, under the lockout;
 * a wrong one is BAD_USER_INPUT whatever the window), or, without one, the caller's session
 * inside its re-authentication window; else FORBIDDEN with reason REAUTHENTICATION_REQUIRED.
 * Answers the password check (to settle when `hold`), or null when the window sufficed.
 */
export async function requireReauthentication(
  me: AuthUser,
  account: User,
  currentPassword: string | null | undefined,
  caller: Caller,
  via: SignInVia,
  options: { hold?: boolean } = {},
): Promise<PasswordCheck | null> {
  if (typeof currentPassword === 'string') return proveCurrentPassword(account, currentPassword, caller, via, options);
  if (await isReauthenticated(me)) return null;
  throw reauthenticationRequired();
}

/**
 * The password proof of `reauthenticate`: the password, plus a TOTP or recovery code when the
 * account has TOTP on. Each wrong one counts towards the sign-in lockout.
 */
export async function provePasswordAgain(
  account: User,
  password: string,
  totpCode: string | null | undefined,
  caller: Caller,
): Promise<void> {
  const check = await proveCurrentPassword(account, password, caller, 'reauthenticate', {
    hold: !!account.totpEnabled,
  }).catch((err: unknown) => {
    throw err instanceof BadUserInputError ? new BadUserInputError('input.password', 'password is not correct') : err;
  });
  if (!account.totpEnabled) return;
  if (!totpCode) {
    await settleAttempt(check, 'neutral');
    throw new BadUserInputError('input.totpCode', 'totpCode is required: this account uses two-factor sign-in');
  }
  if (!(await proveSecondFactor(String(account._id), check, totpCode, caller, 'reauthenticate')))
    throw new BadUserInputError('input.totpCode', 'totpCode is not a valid code from the authenticator app');
}
