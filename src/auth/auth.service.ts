import { AuthEvent } from './auth.audit';
import { Types } from 'mongoose';
import { z } from 'zod';
import type { AuthUser, Caller } from '../core/context';
import type { Authenticated, CredentialRefusal } from '../core/module';
import type { Config } from '../core/config';
import { driverCollection } from '../infra/db';
import { BadUserInputError, ConflictError, UnauthenticatedError, isDuplicateKeyError } from '../core/errors';
import { limitAttempt } from '../infra/rate-limit';
import { OBJECT_ID_HEX, parseInput } from '../core/validation';
import { User, UserModel, USER_VIEW_FIELDS } from '../users/user.model';
import { cancelTokens } from '../users/account-token.service';
import { authUserOf } from '../users/user.actor';
import { parseDisplayName, userView } from '../users/user.profile';
import { sendVerificationMail } from '../users/verification-mail';
import { isReservedForAdmin } from './admin-bootstrap';
import type { AuthResult, SignInVia } from './sign-in';
import { audit } from './auth.audit';
import { emailSchema, normalizeEmail, verifyCredentials, type SignIn } from './credentials.service';
import { assertReauthenticated, requireReauthentication } from './reauthentication';
import { hashPassword, validateNewPassword } from './password';
import { isSessionActive, renewSession, revokeAllSessions, startSession } from './session.service';
import { verifyAccessToken } from './tokens';

export type { AuthResult, ClientInfo } from './sign-in';

const credentialsSchema = z.object({
  email: emailSchema,
  password: z.string().max(1024, 'is too long'),
});

// ---------------------------------------------------------------- sign-up, sign-in

export async function register(
  input: { email: string; password: string; displayName?: string | null },
  caller: Caller,
): Promise<AuthResult> {
  const { config, client, logger } = caller;
  const { email, password } = parseInput(credentialsSchema, input);
  const displayName = parseDisplayName(input.displayName) ?? null;
  await limitAttempt(config, 'register', client.ip, email);
  validateNewPassword(password, 'password', [email, email.split('@')[0]!]);
  if (isReservedForAdmin(config, email) || (await UserModel.exists({ email }))) throw emailTaken();
  const passwordHash = await hashPassword(config, password);
  let user: User;
  try {
    user = (await UserModel.create({ email, passwordHash, displayName })).toObject();
  } catch (err) {
    // The unique index decides between concurrent registrations of one email.
    if (isDuplicateKeyError(err)) throw emailTaken();
    throw err;
  }
  // The account exists and is signed in either way; without the mail, requestEmailVerification
  // sends a new link.
  await sendVerificationMail(config, user, logger).catch((err: unknown) =>
    logger.error({ err, userId: String(user._id) }, 'verification mail could not be queued'),
  );
  return startSession(user, caller);
}

function emailTaken(): ConflictError {
  return new ConflictError('An account with this email already exists', { field: 'email' });
}

export async function login(input: SignIn, caller: Caller, via: SignInVia = 'login'): Promise<AuthResult> {
  await limitAttempt(caller.config, 'login', caller.client.ip, normalizeEmail(input.email));
  const user = await verifyCredentials(input, caller, via);
  return startSession(user, caller);
}

/** The signed-in user's password change: the current password, or a recent reauthenticate, proves it is them. */
export async function changePassword(
  me: AuthUser,
  { currentPassword, newPassword }: { currentPassword?: string | null; newPassword: string },
  caller: Caller,
): Promise<AuthResult> {
  const { config } = caller;
  await limitAttempt(config, 'changePassword', caller.client.ip, me.id);
  const user = await UserModel.findById(me.id).lean<User>();
  if (!user) throw new UnauthenticatedError();
  await requireReauthentication(me, user, currentPassword, caller, 'changePassword');
  validateNewPassword(newPassword, 'newPassword', [user.email, user.email.split('@')[0]!]);
  if (newPassword === currentPassword) {
    throw new BadUserInputError('newPassword', 'newPassword must differ from currentPassword');
  }
  const passwordHash = await hashPassword(config, newPassword);
  const updated = await UserModel.findOneAndUpdate(
    { _id: user._id },
    { $set: { passwordHash, hasPassword: true }, $inc: { tokenVersion: 1 } },
    { returnDocument: 'after' },
  ).lean<User>();
  if (!updated) throw new UnauthenticatedError();
  await Promise.all([revokeAllSessions(me.id, me.sessionId), cancelTokens(me.id)]);
  audit(caller, AuthEvent.PASSWORD_CHANGED, { userId: me.id, actorId: me.id });

  // The caller's own session stays, with a fresh refresh token; without one, a new session starts.
  const kept = me.sessionId ? await renewSession(config, updated, me.sessionId) : null;
  return kept ?? startSession(updated, caller);
}

/**
 * `setPassword`: a first password for an account that has none (it signs in by email code,
 * passkey or a provider), inside the session's re-authentication window; CONFLICT once it has one.
 */
export async function setPassword(me: AuthUser, newPassword: string, caller: Caller): Promise<User> {
  const { config } = caller;
  await limitAttempt(config, 'changePassword', caller.client.ip, me.id);
  const user = await UserModel.findById(me.id).lean<User>();
  if (!user) throw new UnauthenticatedError();
  if (user.hasPassword !== false) throw passwordExists();
  await assertReauthenticated(me);
  validateNewPassword(newPassword, 'newPassword', [user.email, user.email.split('@')[0]!]);
  const passwordHash = await hashPassword(config, newPassword);
  const updated = await UserModel.findOneAndUpdate(
    { _id: user._id, hasPassword: false },
    { $set: { passwordHash, hasPassword: true } },
    { returnDocument: 'after' },
  ).lean<User>();
  if (!updated) throw passwordExists();
  audit(caller, AuthEvent.PASSWORD_CHANGED, { userId: me.id, actorId: me.id, details: { first: true } });
  return userView(updated);
}

function passwordExists(): ConflictError {
  return new ConflictError('This account has a password: change it with changePassword', {
    reason: 'PASSWORD_EXISTS',
  });
}

// ---------------------------------------------------------------- per-request authentication

/**
 * What a request's authentication reads of its user: the checks' fields plus every field a
 * client may see (USER_VIEW_FIELDS, the same projection `me` would read), so `me` answers from
 * this read instead of reading the same user again.
 */
const USER_FIELDS = { ...USER_VIEW_FIELDS, tokenVersion: 1 } as const;

/** Why a Bearer token was refused, as `extensions.reason` tells clients. */
export type BearerRefusal = CredentialRefusal;

/**
 * Resolves a Bearer token to the current user, or says why not: expired (refresh and retry),
 * invalid (a forged or broken token), or revoked (its session, user or token version no longer
 * stands: sign in again). The user and the session are read in parallel: a revoked session's
 * access token stops at once, at no extra latency.
 */
export async function checkBearer(
  config: Config,
  token: string,
): Promise<(Required<Authenticated> & { expiresAt: number }) | BearerRefusal> {
  const claims = verifyAccessToken(token, config.jwt);
  if (claims === 'expired') return 'TOKEN_EXPIRED';
  if (!claims || !OBJECT_ID_HEX.test(claims.sub)) return 'TOKEN_INVALID';
  const [account, live] = await Promise.all([
    // On every Bearer request: straight to the driver (driverCollection), sub checked above.
    driverCollection<User>(UserModel).findOne({ _id: new Types.ObjectId(claims.sub) }, { projection: USER_FIELDS }),
    isSessionActive(claims.sid, claims.sub),
  ]);
  if (!account || !live || account.disabled || account.tokenVersion !== claims.tv) return 'SESSION_REVOKED';
  const user = authUserOf(claims.sub, account, { sessionId: claims.sid });
  return { user, account, expiresAt: claims.exp * 1000 };
}

/**
 * The account a password checked earlier signed in (a remembered or held Basic check), as it
 * stands now; null when disabled, revoked, its email changed since, or TOTP turned on since (a
 * password alone no longer signs this account in).
 */
export async function checkCurrentUser(
  id: string,
  tokenVersion: number,
  email: string,
): Promise<Required<Authenticated> | null> {
  const account = await UserModel.findById(id, USER_FIELDS).lean<User>();
  // The cached credentials named this email: after an email change they no longer match.
  if (!account || account.disabled || account.tokenVersion !== tokenVersion || account.email !== email) return null;
  if (account.totpEnabled) return null;
  return { user: authUserOf(id, account), account };
}
