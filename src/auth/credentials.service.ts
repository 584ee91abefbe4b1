import { AuthEvent } from './auth.audit';
import { z } from 'zod';
import type { Config } from '../core/config';
import type { Caller } from '../core/context';
import { BadUserInputError, emailNotVerified, accountDisabled, UnauthenticatedError } from '../core/errors';
import { emailSchema, parseInput } from '../core/validation';
import { checkSecondFactor } from '../core/hooks';
import { User, UserModel } from '../users/user.model';
import { audit } from './auth.audit';
import type { SignInVia } from './sign-in';
import { releaseAttempts, reserveAttempt, returnAttempt } from '../users/lockout.service';
import { assertHashable, dummyHash, hashPassword, needsRehash, verifyPassword } from './password';

/** One message for an unknown email and a wrong password, so neither reveals which it was. */
export const INVALID_CREDENTIALS = 'Invalid email or password';

/** Sign-up's email schema (src/core/validation.ts), where the account services import it from. */
export { emailSchema };

const loginSchema = z.object({
  email: z.string().trim().toLowerCase().max(254, 'must be at most 254 characters'),
  password: z.string().max(1024, 'is too long'),
});

/** What a password sign-in presents: an email (as typed), the password, and a code with TOTP on. */
export interface SignIn {
  email: string;
  password: string;
  totpCode?: string | null;
}

/** The key rate limits and the lockout count under: trimmed, lower-cased, bounded. */
export function normalizeEmail(raw: unknown): string | undefined {
  return typeof raw === 'string' ? raw.trim().toLowerCase().slice(0, 254) : undefined;
}

export interface PasswordCheck {
  ok: boolean;
  /** Only with `hold`: the email whose attempt slot is still taken, to settle with `settleAttempt`. */
  held?: string;
  /** This failure used up the last attempt: the email is now locked. */
  locked: boolean;
}

/**
 * Compares a password under the lockout: a slot is reserved for the email first (429 when none
 * is free), so parallel guesses cannot outrun the limit. Unknown emails (no hash) are compared
 * against a dummy hash and counted the same way, so they answer and lock like real ones.
 *
 * `hold` (a second factor follows): a right password keeps its slot instead of clearing the
 * failures, and the caller settles it with `settleAttempt`. Otherwise whoever knows the password
 * could clear the count before each guess of a TOTP code, and the lockout would never apply.
 * `totpEnabled` (the account has a second factor, none follows): for the same reason a right
 * password only gives its own slot back.
 */
export async function checkPassword(
  config: Config,
  email: string,
  password: string,
  hash: string | null | undefined,
  { hold = false, totpEnabled = false }: { hold?: boolean; totpEnabled?: boolean | null } = {},
): Promise<PasswordCheck> {
  const slot = await reserveAttempt(config, email);
  let ok: boolean;
  try {
    ok = await verifyPassword(config, password, hash ?? (await dummyHash(config)));
  } catch (err) {
    // Not evaluated (hashing queue full): the attempt does not count against the account.
    await returnAttempt(email).catch(() => undefined);
    throw err;
  }
  if (ok && hash && hold) return { ok: true, locked: slot.last, held: email };
  if (ok && hash) {
    // With TOTP on, a password alone is half a sign-in: it gives back its own slot but leaves
    // earlier failures (wrong codes) counted; only both factors together clear them.
    if (totpEnabled) await returnAttempt(email).catch(() => undefined);
    else await releaseAttempts(email);
    return { ok: true, locked: false };
  }
  return { ok: false, locked: slot.last };
}

/**
 * Settles a held attempt: `passed` (both factors right) clears the failures, `neutral` (no code
 * was given) gives the slot back, `failed` (a wrong code) leaves it counted.
 */
export async function settleAttempt(check: PasswordCheck, outcome: 'passed' | 'neutral' | 'failed'): Promise<void> {
  if (!check.held || outcome === 'failed') return;
  if (outcome === 'passed') await releaseAttempts(check.held);
  else await returnAttempt(check.held).catch(() => undefined);
}

/**
 * The signed-in user's current password, asked again before a sensitive change: a wrong one is
 * a failed sign-in attempt (it counts towards the same lockout) and BAD_USER_INPUT on
 * `currentPassword`. With TOTP on, a right one alone never clears the failures counted so far
 * (see checkPassword); `hold` keeps its slot for a code that follows (settleAttempt).
 */
export async function proveCurrentPassword(
  user: User,
  password: string,
  caller: Caller,
  via: SignInVia,
  { hold = false }: { hold?: boolean } = {},
): Promise<PasswordCheck> {
  assertHashable(password, 'currentPassword');
  const check = await checkPassword(caller.config, user.email, password, user.passwordHash, {
    hold,
    totpEnabled: user.totpEnabled,
  });
  if (!check.ok) {
    recordFailure(caller, check, { userId: String(user._id), email: null, via });
    throw new BadUserInputError('currentPassword', 'currentPassword is not correct');
  }
  return check;
}

/** `extensions.reason` when the password was right and the second factor is missing or wrong. */
export const MFA_REQUIRED = 'MFA_REQUIRED';
export const MFA_INVALID = 'MFA_INVALID';

export function mfaRequired(): UnauthenticatedError {
  return new UnauthenticatedError(
    'This account uses two-factor sign-in: send totpCode, a code from the authenticator app or a recovery code',
    { reason: MFA_REQUIRED },
  );
}

/**
 * The second step of a sign-in for an account with TOTP on, once the password was right: a code
 * (TOTP or recovery) is required; a wrong one counts towards the lockout like a wrong password.
 * HTTP Basic cannot carry a code, so it is refused for such accounts.
 */
async function secondFactor(
  user: User,
  check: PasswordCheck,
  code: string | null | undefined,
  caller: Caller,
  via: SignInVia,
): Promise<void> {
  const userId = String(user._id);
  if (via === 'basic' || !code) {
    await settleAttempt(check, 'neutral');
    throw via === 'basic'
      ? new UnauthenticatedError(
          'This account uses two-factor sign-in: HTTP Basic cannot carry a code; use an API key (createApiKey) instead',
          { reason: MFA_REQUIRED },
        )
      : mfaRequired();
  }
  if (!(await proveSecondFactor(userId, check, code, caller, via)))
    throw new UnauthenticatedError('Invalid two-factor code', { reason: MFA_INVALID });
}

/**
 * A TOTP or recovery code, after the password held its lockout slot (`hold`): a wrong code keeps
 * the slot counted and is recorded as a failed sign-in (false; the caller answers in its own
 * terms), a right one clears the failures; a used recovery code is audited.
 */
export async function proveSecondFactor(
  userId: string,
  check: PasswordCheck,
  code: string,
  caller: Caller,
  via: SignInVia,
): Promise<boolean> {
  const used = await settled(check, caller, { userId, email: null, via }, () =>
    checkSecondFactor(userId, code, caller),
  );
  if (!used) return false;
  if (used === 'recovery') audit(caller, AuthEvent.MFA_RECOVERY_CODE_USED, { userId, details: { via } });
  return true;
}

/**
 * A code checked on its own under the user's sign-in lockout (confirmTotpSetup: the first code of
 * a pending secret, where only an access token is presented). Each call takes a slot first, so
 * every field of a request counts (429 with Retry-After when none is free); a miss keeps it and
 * is recorded as a failed sign-in, a pass clears the failures (the password was proven when the
 * secret was handed out). `verify` is told whether this attempt took the last slot: then a miss
 * locks the email, and the caller drops what was being guessed at.
 */
export async function proveCodeUnderLockout<T>(
  user: User,
  caller: Caller,
  via: SignInVia,
  verify: (last: boolean) => Promise<T | null>,
): Promise<T | null> {
  const slot = await reserveAttempt(caller.config, user.email);
  const check: PasswordCheck = { ok: true, locked: slot.last, held: user.email };
  return settled(check, caller, { userId: String(user._id), email: null, via }, () => verify(slot.last));
}

/**
 * Settles a held slot by what `verify` says: an error gives it back (nothing was evaluated), a
 * miss keeps it counted and is recorded as a failed sign-in, a pass clears the failures.
 */
async function settled<T>(
  check: PasswordCheck,
  caller: Caller,
  who: { userId: string; email: null; via: SignInVia },
  verify: () => Promise<T | null>,
): Promise<T | null> {
  let result: T | null;
  try {
    result = await verify();
  } catch (err) {
    await settleAttempt(check, 'neutral');
    throw err;
  }
  if (!result) {
    recordFailure(caller, check, who);
    return null;
  }
  await settleAttempt(check, 'passed');
  return result;
}

/**
 * A TOTP or recovery code where no password was checked just before (a session inside its
 * re-authentication window): it takes a lockout slot first, so guesses are limited as at sign-in.
 */
export async function proveSecondFactorAlone(
  user: User,
  code: string,
  caller: Caller,
  via: SignInVia,
): Promise<boolean> {
  const slot = await reserveAttempt(caller.config, user.email);
  return proveSecondFactor(String(user._id), { ok: true, locked: slot.last, held: user.email }, code, caller, via);
}

/**
 * The second factor on its own, where something other than the password proved the first (a
 * password reset link): no code is MFA_REQUIRED before anything is counted or used up; a code
 * takes a lockout slot first, so guesses are limited exactly as at sign-in, and only a right code
 * clears the failures.
 */
export async function requireSecondFactor(
  user: User,
  code: string | null | undefined,
  caller: Caller,
  via: SignInVia,
): Promise<void> {
  if (!code) throw mfaRequired();
  if (!(await proveSecondFactorAlone(user, code, caller, via)))
    throw new UnauthenticatedError('Invalid two-factor code', { reason: MFA_INVALID });
}

/**
 * The one place that checks an email and password (login, HTTP Basic, OAuth password grant):
 * lockout per email, the same answer and similar timing for unknown emails, then the second
 * factor when TOTP is on (only after a right password, so it reveals nothing to a guesser), and
 * the disabled check last.
 */
export async function verifyCredentials(login: SignIn, caller: Caller, via: SignInVia): Promise<User> {
  const { config } = caller;
  const { password } = login;
  const { email } = parseInput(loginSchema, { email: login.email, password });
  assertHashable(password, 'password');
  const user = await UserModel.findOne({ email }).lean<User>();
  const check = await checkPassword(config, email, password, user?.passwordHash, { hold: !!user?.totpEnabled });
  const userId = user ? String(user._id) : null;
  if (!check.ok || !user) {
    // The audit log keeps `email` only when it is an email address (not a password typed into
    // the field): recordAuditEvent drops anything else.
    recordFailure(caller, check, { userId, email: userId ? null : email, via });
    throw new UnauthenticatedError(INVALID_CREDENTIALS, { reason: 'BAD_CREDENTIALS' });
  }
  if (user.totpEnabled) await secondFactor(user, check, login.totpCode, caller, via);
  // A right password means there is a hash (an account without one never matches).
  if (needsRehash(config, user.passwordHash!)) await upgradeHash(user, password, caller);
  if (user.disabled) throw accountDisabled();
  // HTTP Basic still authenticates an unverified account: the permission rules limit it to
  // requesting a new verification link.
  if (config.account.requireEmailVerification && !user.emailVerified && via !== 'basic') throw emailNotVerified();
  audit(caller, AuthEvent.LOGIN_SUCCEEDED, { userId, details: { via } });
  return user;
}

/** LOGIN_FAILED, and ACCOUNT_LOCKED when that failure used up the last attempt. */
export function recordFailure(
  caller: Caller,
  check: PasswordCheck,
  who: { userId: string | null; email: string | null; via: SignInVia },
): void {
  const event = { userId: who.userId, email: who.email, details: { via: who.via } };
  audit(caller, AuthEvent.LOGIN_FAILED, event);
  if (check.locked) audit(caller, AuthEvent.ACCOUNT_LOCKED, event);
}

/** Rewrites a hash in the current scheme and cost, now that the password is known. */
async function upgradeHash(user: User, password: string, caller: Caller): Promise<void> {
  try {
    const passwordHash = await hashPassword(caller.config, password);
    await UserModel.updateOne({ _id: user._id, passwordHash: user.passwordHash }, { $set: { passwordHash } });
  } catch (err) {
    // The sign-in itself succeeded; the upgrade is retried at the next one.
    caller.logger.warn({ err, userId: String(user._id) }, 'password hash upgrade failed');
  }
}
