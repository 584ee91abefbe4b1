import { isValidObjectId, type Types } from 'mongoose';
import { z } from 'zod';
import type { AuthUser } from '../context';
import type { Config } from '../core/config';
import { atomically, op } from '../core/db';
import {
  BadUserInputError,
  ConflictError,
  ForbiddenError,
  NotFoundError,
  TooManyRequestsError,
  UnauthenticatedError,
  isDuplicateKeyError,
} from '../core/errors';
import type { Logger } from '../core/logger';
import { limitAttempt } from '../core/rate-limit';
import { parseInput } from '../core/validation';
import { Role, User, UserModel } from '../users/user.model';
import { assertHashable, dummyHash, hashPassword, validateNewPassword, verifyPassword } from './password';
import { Session, SessionModel } from './session.model';
import {
  formatRefreshToken,
  newRefreshSecret,
  parseRefreshToken,
  sameHash,
  sha256,
  signAccessToken,
  verifyAccessToken,
} from './tokens';

/** One message for an unknown email and a wrong password, so neither reveals which it was. */
const INVALID_CREDENTIALS = 'Invalid email or password';

export interface ClientInfo {
  userAgent?: string | null;
  /** The client's address (as Express sees it, TRUST_PROXY applied), for rate limits. */
  ip?: string;
}

export interface AuthResult {
  accessToken: string;
  refreshToken: string;
  tokenType: 'Bearer';
  expiresIn: number;
  user: User;
}

export const emailSchema = z
  .string()
  .trim()
  .toLowerCase()
  .max(254, 'must be at most 254 characters')
  .pipe(z.email({ error: 'must be a valid email address' }));

const credentialsSchema = z.object({
  email: emailSchema,
  password: z.string().max(1024, 'is too long'),
});

const loginSchema = z.object({
  email: z.string().trim().toLowerCase().max(254, 'must be at most 254 characters'),
  password: z.string().max(1024, 'is too long'),
});

// ---------------------------------------------------------------- sign-up, sign-in

export async function register(
  config: Config,
  input: { email: string; password: string },
  client: ClientInfo,
): Promise<AuthResult> {
  const { email, password } = parseInput(credentialsSchema, input);
  await limitAttempt(config, 'register', client.ip, email);
  validateNewPassword(password, 'password', [email, email.split('@')[0]!]);
  if (await UserModel.exists({ email })) throw emailTaken();
  const passwordHash = await hashPassword(password, config.bcryptCost);
  let user: User;
  try {
    user = (await UserModel.create({ email, passwordHash })).toObject();
  } catch (err) {
    // The unique index decides between concurrent registrations of one email.
    if (isDuplicateKeyError(err)) throw emailTaken();
    throw err;
  }
  return startSession(config, user, client);
}

function emailTaken(): ConflictError {
  return new ConflictError('An account with this email already exists', { field: 'email' });
}

export async function login(
  config: Config,
  input: { email: string; password: string },
  client: ClientInfo,
): Promise<AuthResult> {
  const account = typeof input.email === 'string' ? input.email.trim().toLowerCase().slice(0, 254) : undefined;
  await limitAttempt(config, 'login', client.ip, account);
  const user = await verifyCredentials(config, input.email, input.password);
  return startSession(config, user, client);
}

/**
 * The one place that checks an email and password (login, HTTP Basic, OAuth password grant):
 * lockout, constant-ish time for unknown emails, and the disabled check after the password.
 */
export async function verifyCredentials(config: Config, rawEmail: string, password: string): Promise<User> {
  const { email } = parseInput(loginSchema, { email: rawEmail, password });
  assertHashable(password, 'password');
  const user = await UserModel.findOne({ email }).lean<User>();
  if (!user) {
    await verifyPassword(password, await dummyHash(config.bcryptCost));
    throw new UnauthenticatedError(INVALID_CREDENTIALS);
  }
  const now = Date.now();
  const lockedUntil = user.lockedUntil?.getTime() ?? 0;
  if (lockedUntil > now) throw new TooManyRequestsError(Math.ceil((lockedUntil - now) / 1000));

  if (!(await verifyPassword(password, user.passwordHash))) {
    await recordFailedLogin(config, user, now);
    throw new UnauthenticatedError(INVALID_CREDENTIALS);
  }
  if (user.failedLoginAttempts > 0 || user.lockedUntil) {
    await UserModel.updateOne({ _id: user._id }, { $set: { failedLoginAttempts: 0, lockedUntil: null } });
  }
  if (user.disabled) throw new ForbiddenError('This account is disabled');
  return user;
}

async function recordFailedLogin(config: Config, user: User, now: number): Promise<void> {
  // An expired lock starts a fresh count; otherwise count atomically, so concurrent failures add up.
  const lockExpired = user.lockedUntil && user.lockedUntil.getTime() <= now;
  const updated = await atomically(`user:${String(user._id)}`, () =>
    UserModel.findOneAndUpdate(
      { _id: user._id },
      lockExpired ? { $set: { failedLoginAttempts: 1, lockedUntil: null } } : { $inc: { failedLoginAttempts: 1 } },
      { returnDocument: 'after' },
    ).lean<Pick<User, 'failedLoginAttempts'>>(),
  );
  if (updated && updated.failedLoginAttempts >= config.login.maxAttempts) {
    await UserModel.updateOne(
      { _id: user._id },
      { $set: { lockedUntil: new Date(now + config.login.lockSeconds * 1000) } },
    );
  }
}

// ---------------------------------------------------------------- sessions and tokens

async function startSession(config: Config, user: User, client: ClientInfo): Promise<AuthResult> {
  const { secret, hash } = newRefreshSecret();
  const session = await SessionModel.create({
    userId: String(user._id),
    tokenHash: hash,
    expiresAt: new Date(Date.now() + config.jwt.refreshTokenTtl * 1000),
    userAgent: client.userAgent?.slice(0, 512) ?? null,
  });
  return authResult(config, user, String(session._id), secret);
}

function authResult(config: Config, user: User, sessionId: string, secret: string): AuthResult {
  const accessToken = signAccessToken(
    { sub: String(user._id), role: user.role, tv: user.tokenVersion, sid: sessionId },
    config.jwt,
  );
  return {
    accessToken,
    refreshToken: formatRefreshToken(sessionId, secret),
    tokenType: 'Bearer',
    expiresIn: config.jwt.accessTokenTtl,
    user,
  };
}

/**
 * Rotates a refresh token. Presenting a token that was already rotated means it leaked (or
 * raced): the whole session is revoked, so neither copy works any more.
 */
export async function refresh(config: Config, token: string, client: ClientInfo, logger?: Logger): Promise<AuthResult> {
  const invalid = () => new UnauthenticatedError('Invalid or expired refresh token');
  const parsed = parseRefreshToken(token);
  await limitAttempt(config, 'refreshToken', client.ip, parsed?.sessionId);
  if (!parsed) throw invalid();
  const session = await SessionModel.findById(parsed.sessionId).lean<Session>();
  if (!session || session.revokedAt || session.expiresAt.getTime() <= Date.now()) throw invalid();

  const presented = sha256(parsed.secret);
  if (!sameHash(presented, session.tokenHash)) {
    await revokeById(session._id);
    logger?.warn({ sessionId: String(session._id), userId: session.userId }, 'refresh token reuse: session revoked');
    throw invalid();
  }
  const user = await UserModel.findById(session.userId).lean<User>();
  if (!user || user.disabled) throw invalid();

  const next = newRefreshSecret();
  const rotated = await atomically(`session:${String(session._id)}`, () =>
    SessionModel.findOneAndUpdate(
      { _id: session._id, tokenHash: presented, revokedAt: null },
      {
        $set: {
          tokenHash: next.hash,
          lastUsedAt: new Date(),
          ...(client.userAgent ? { userAgent: client.userAgent.slice(0, 512) } : {}),
        },
      },
      { returnDocument: 'after' },
    ).lean(),
  );
  if (!rotated) {
    // Another request rotated the same token first: that is reuse too.
    await revokeById(session._id);
    throw invalid();
  }
  return authResult(config, user, String(session._id), next.secret);
}

async function revokeById(id: Types.ObjectId | string): Promise<boolean> {
  const res = await SessionModel.updateOne({ _id: id, revokedAt: null }, { $set: { revokedAt: new Date() } });
  return res.modifiedCount > 0;
}

export async function logout(token: string): Promise<boolean> {
  const parsed = parseRefreshToken(token);
  if (!parsed) throw new BadUserInputError('refreshToken', 'refreshToken is not a valid refresh token');
  const session = await SessionModel.findById(parsed.sessionId, { tokenHash: 1 }).lean<Session>();
  if (!session || !sameHash(sha256(parsed.secret), session.tokenHash)) return false;
  return revokeById(session._id);
}

/** Revokes every session and, by bumping the token version, every access token issued so far. */
export async function logoutAll(userId: string): Promise<boolean> {
  await UserModel.updateOne({ _id: userId }, { $inc: { tokenVersion: 1 } });
  await revokeAllSessions(userId);
  return true;
}

export async function revokeAllSessions(userId: string, except?: string): Promise<void> {
  await SessionModel.updateMany(
    { userId, revokedAt: null, ...(except ? { _id: op({ $ne: except }) } : {}) },
    { $set: { revokedAt: new Date() } },
  );
}

export async function listSessions(user: AuthUser): Promise<Session[]> {
  const sessions = await SessionModel.find({ userId: user.id, revokedAt: null, expiresAt: op({ $gt: new Date() }) })
    .sort({ createdAt: -1, _id: -1 })
    .lean<Session[]>();
  return sessions.map((s) => ({ ...s, current: String(s._id) === user.sessionId }));
}

export async function revokeSession(user: AuthUser, id: string): Promise<boolean> {
  if (!isValidObjectId(id) || !/^[0-9a-f]{24}$/i.test(id)) throw new BadUserInputError('id', 'id is not a valid id');
  const res = await SessionModel.updateOne(
    { _id: id, userId: user.id, revokedAt: null },
    { $set: { revokedAt: new Date() } },
  );
  if (res.matchedCount === 0) throw new NotFoundError('No such session');
  return true;
}

export async function changePassword(
  config: Config,
  caller: AuthUser,
  currentPassword: string,
  newPassword: string,
  client: ClientInfo,
): Promise<AuthResult> {
  await limitAttempt(config, 'changePassword', client.ip, caller.id);
  const user = await UserModel.findById(caller.id).lean<User>();
  if (!user) throw new UnauthenticatedError();
  assertHashable(currentPassword, 'currentPassword');
  if (!(await verifyPassword(currentPassword, user.passwordHash))) {
    throw new BadUserInputError('currentPassword', 'currentPassword is not correct');
  }
  validateNewPassword(newPassword, 'newPassword', [user.email, user.email.split('@')[0]!]);
  if (newPassword === currentPassword) {
    throw new BadUserInputError('newPassword', 'newPassword must differ from currentPassword');
  }
  const passwordHash = await hashPassword(newPassword, config.bcryptCost);
  const updated = await UserModel.findOneAndUpdate(
    { _id: user._id },
    { $set: { passwordHash }, $inc: { tokenVersion: 1 } },
    { returnDocument: 'after' },
  ).lean<User>();
  if (!updated) throw new UnauthenticatedError();
  await revokeAllSessions(caller.id, caller.sessionId);

  // The caller's own session stays, with a fresh refresh token; without one, a new session starts.
  if (caller.sessionId) {
    const next = newRefreshSecret();
    const kept = await SessionModel.findOneAndUpdate(
      { _id: caller.sessionId, userId: caller.id, revokedAt: null },
      { $set: { tokenHash: next.hash, lastUsedAt: new Date() } },
      {},
    ).lean();
    if (kept) return authResult(config, updated, caller.sessionId, next.secret);
  }
  return startSession(config, updated, client);
}

// ---------------------------------------------------------------- per-request authentication

/** Resolves a Bearer token to the current user; null when the token or its user is not valid now. */
export async function authenticateBearer(config: Config, token: string): Promise<AuthUser | null> {
  const claims = verifyAccessToken(token, config.jwt);
  if (!claims || !/^[0-9a-f]{24}$/.test(claims.sub)) return null;
  const user = await UserModel.findById(claims.sub, { email: 1, role: 1, disabled: 1, tokenVersion: 1 }).lean<User>();
  if (!user || user.disabled || user.tokenVersion !== claims.tv) return null;
  // The role comes from the database, so a role change applies on the next request.
  return { id: claims.sub, email: user.email, role: user.role, sessionId: claims.sid };
}

/** Loads a user for a cached Basic check; null when disabled or its tokens were revoked since. */
export async function currentUser(id: string, tokenVersion: number): Promise<AuthUser | null> {
  const user = await UserModel.findById(id, { email: 1, role: 1, disabled: 1, tokenVersion: 1 }).lean<User>();
  if (!user || user.disabled || user.tokenVersion !== tokenVersion) return null;
  return { id, email: user.email, role: user.role };
}

// ---------------------------------------------------------------- start-up and housekeeping

/** Makes sure ADMIN_EMAIL exists with role ADMIN: created once, promoted if present, password kept. */
export async function ensureAdmin(config: Config, logger: Logger): Promise<void> {
  if (!config.admin) return;
  const email = parseInput(z.object({ email: emailSchema }), { email: config.admin.email }).email;
  const existing = await UserModel.findOne({ email }, { role: 1 }).lean<User>();
  if (existing) {
    if (existing.role !== Role.ADMIN) {
      await UserModel.updateOne({ _id: existing._id }, { $set: { role: Role.ADMIN } });
      logger.info({ email }, 'existing user promoted to ADMIN');
    }
    return;
  }
  validateNewPassword(config.admin.password, 'ADMIN_PASSWORD', [email]);
  const passwordHash = await hashPassword(config.admin.password, config.bcryptCost);
  try {
    await UserModel.create({ email, passwordHash, role: Role.ADMIN });
    logger.info({ email }, 'admin user created');
  } catch (err) {
    // Another instance created it at the same moment; make sure it is an admin.
    if (!isDuplicateKeyError(err)) throw err;
    await UserModel.updateOne({ email }, { $set: { role: Role.ADMIN } });
  }
}

/** Deletes sessions that expired (FerretDB has no TTL indexes, so this runs on a timer). */
export async function deleteExpiredSessions(): Promise<number> {
  const res = await SessionModel.deleteMany({ expiresAt: op({ $lt: new Date() }) });
  return res.deletedCount;
}
