import { AuthEvent } from './auth.audit';
import type { AuthUser, Caller } from '../core/context';
import type { Config } from '../core/config';
import { atomically, driverCollection, op } from '../infra/db';
import { accountGone, BadUserInputError, NotFoundError } from '../core/errors';
import { User, UserModel } from '../users/user.model';
import { audit } from './auth.audit';
import { authChanged } from '../infra/auth-events';
import { mfaRequired } from './credentials.service';
import type { AuthResult } from './sign-in';
import { MAX_PREVIOUS_HASHES, Session, SessionModel } from './session.model';
import {
  formatRefreshToken,
  newRefreshSecret,
  newSessionId,
  parseRefreshToken,
  SESSION_ID,
  signAccessToken,
} from './tokens';
import { sameHash, sha256 } from '../core/crypto';

/**
 * Starts a session for a user as it was read before the password check. The session carries
 * that read's token version: if a logoutAll, password change or disable landed in between, the
 * session is born dead (refresh refuses it, its access token fails the version check).
 *
 * TOTP turned on in between (confirmTotpSetup) is caught by reading the flag again once the
 * session exists: confirmTotpSetup sets the flag before it revokes the other sessions, so either
 * this read sees the flag and the session is revoked here, or the flag came later and its revoke
 * finds this session. The token version is not bumped there instead: that would also end the
 * access token of the caller, whose mutation returns recovery codes, not new tokens.
 */
export async function startSession(user: User, { config, client }: Caller): Promise<AuthResult> {
  const { secret, hash } = newRefreshSecret();
  const now = new Date();
  const session = await SessionModel.create({
    _id: newSessionId(),
    userId: String(user._id),
    tokenHash: hash,
    tokenVersion: user.tokenVersion,
    lastUsedAt: now,
    expiresAt: new Date(now.getTime() + config.jwt.refreshTokenTtl * 1000),
    userAgent: client.userAgent?.slice(0, 512) ?? null,
  });
  // Checked after the write (see undoUnlessUserActive): a sign-in racing a disable or deletion, or
  // TOTP turned on while it checked only the password, leaves no session behind.
  const current = await UserModel.findById(user._id, { disabled: 1, totpEnabled: 1 }).lean<User>();
  if (!current) {
    await SessionModel.deleteOne({ _id: session._id });
    throw accountGone();
  }
  if (current.disabled || (current.totpEnabled && !user.totpEnabled)) {
    await revokeById(session._id, String(user._id));
    throw current.disabled ? accountGone() : mfaRequired();
  }
  return authResult(config, user, session, secret);
}

export function authResult(
  config: Config,
  user: User,
  session: Pick<Session, '_id' | 'expiresAt'>,
  secret: string,
): AuthResult {
  const sessionId = session._id;
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
    sessionExpiresAt: session.expiresAt,
  };
}

function idleSince(session: Pick<Session, 'lastUsedAt' | 'createdAt'>): number {
  return (session.lastUsedAt ?? session.createdAt).getTime();
}

/** True while a session may be used: not revoked, not expired, not idle too long. */
export function isLive(config: Config, session: Pick<Session, 'revokedAt' | 'expiresAt' | 'lastUsedAt' | 'createdAt'>) {
  const now = Date.now();
  return (
    !session.revokedAt &&
    session.expiresAt.getTime() > now &&
    idleSince(session) + config.jwt.sessionIdleTimeout * 1000 > now
  );
}

export async function revokeById(id: string, userId: string): Promise<boolean> {
  const res = await SessionModel.updateOne({ _id: id, revokedAt: null }, { $set: { revokedAt: new Date() } });
  if (res.modifiedCount > 0) authChanged(userId);
  return res.modifiedCount > 0;
}

export async function logout(token: string, caller: Caller): Promise<boolean> {
  const parsed = parseRefreshToken(token);
  if (!parsed) throw new BadUserInputError('refreshToken', 'refreshToken is not a valid refresh token');
  const session = await SessionModel.findById(parsed.sessionId, { tokenHash: 1, userId: 1 }).lean<Session>();
  if (!session || !sameHash(sha256(parsed.secret), session.tokenHash)) return false;
  const revoked = await revokeById(session._id, session.userId);
  if (revoked) {
    audit(caller, AuthEvent.SESSION_REVOKED, {
      userId: session.userId,
      actorId: session.userId,
      details: { sessionId: session._id, reason: 'logout' },
    });
  }
  return revoked;
}

/** Revokes every session and, by bumping the token version, every access token issued so far. */
export async function logoutAll(userId: string, caller: Caller): Promise<boolean> {
  await UserModel.updateOne({ _id: userId }, { $inc: { tokenVersion: 1 } });
  await revokeAllSessions(userId);
  audit(caller, AuthEvent.LOGGED_OUT_ALL, { userId, actorId: userId });
  return true;
}

export async function revokeAllSessions(userId: string, except?: string): Promise<void> {
  await SessionModel.updateMany(
    { userId, revokedAt: null, ...(except ? { _id: op({ $ne: except }) } : {}) },
    { $set: { revokedAt: new Date() } },
  );
  authChanged(userId);
}

/**
 * Moves the caller's own session to a new token version with a fresh refresh secret (after a
 * password change). Null when that session is no longer active.
 */
export async function renewSession(config: Config, user: User, sessionId: string): Promise<AuthResult | null> {
  const next = newRefreshSecret();
  const kept = await atomically(`session:${sessionId}`, async () => {
    const current = await SessionModel.findOne({
      _id: sessionId,
      userId: String(user._id),
      revokedAt: null,
    }).lean<Session>();
    if (!current) return null;
    // The replaced secret joins the rotated ones: presenting it later is reuse.
    return SessionModel.findOneAndUpdate(
      { _id: sessionId, tokenHash: current.tokenHash, revokedAt: null },
      {
        $set: {
          tokenHash: next.hash,
          previousHashes: [...(current.previousHashes ?? []), current.tokenHash].slice(-MAX_PREVIOUS_HASHES),
          tokenVersion: user.tokenVersion,
          lastUsedAt: new Date(),
        },
      },
      {},
    ).lean();
  });
  return kept ? authResult(config, user, kept, next.secret) : null;
}

export async function listSessions(config: Config, user: AuthUser): Promise<Session[]> {
  const sessions = await SessionModel.find({ userId: user.id, revokedAt: null, expiresAt: op({ $gt: new Date() }) })
    .sort({ createdAt: -1, _id: -1 })
    .lean<Session[]>();
  // Sessions from before random ids (ObjectId _id, no token version) can never refresh again.
  return sessions
    .filter((s) => typeof s._id === 'string' && SESSION_ID.test(s._id) && isLive(config, s))
    .map((s) => ({ ...s, current: s._id === user.sessionId }));
}

export async function revokeSession(user: AuthUser, id: string, caller: Caller): Promise<boolean> {
  if (!SESSION_ID.test(id)) throw new BadUserInputError('id', 'id is not a valid session id');
  const res = await SessionModel.updateOne(
    { _id: id, userId: user.id, revokedAt: null },
    { $set: { revokedAt: new Date() } },
  );
  if (res.matchedCount === 0) throw new NotFoundError('No such session');
  authChanged(user.id);
  audit(caller, AuthEvent.SESSION_REVOKED, {
    userId: user.id,
    actorId: user.id,
    details: { sessionId: id, reason: 'revokeSession' },
  });
  return true;
}

/** For each request's access token: whether its session is still active (not revoked or expired). */
export async function isSessionActive(sessionId: string, userId: string): Promise<boolean> {
  if (!SESSION_ID.test(sessionId)) return false;
  // On every Bearer request, beside the user's read (checkBearer): straight to the driver.
  const session = await driverCollection<Session>(SessionModel).findOne(
    { _id: sessionId },
    { projection: { userId: 1, revokedAt: 1, expiresAt: 1 } },
  );
  return !!session && session.userId === userId && !session.revokedAt && session.expiresAt.getTime() > Date.now();
}

/** Deletes expired and idle sessions (FerretDB has no TTL indexes, so this runs on a timer). */
export async function deleteExpiredSessions(config: Config): Promise<number> {
  const now = Date.now();
  const res = await SessionModel.deleteMany({
    $or: [
      { expiresAt: op({ $lt: new Date(now) }) },
      { lastUsedAt: op({ $lt: new Date(now - config.jwt.sessionIdleTimeout * 1000) }) },
    ],
  });
  return res.deletedCount;
}
