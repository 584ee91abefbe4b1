import { AuthEvent } from './auth.audit';
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import type { Config } from '../core/config';
import { atomically, op } from '../infra/db';
import { UnauthenticatedError } from '../core/errors';
import type { Caller } from '../core/context';
import { limitAttempt } from '../infra/rate-limit';
import { User, UserModel } from '../users/user.model';
import { audit } from './auth.audit';
import type { AuthResult } from './sign-in';
import { MAX_PREVIOUS_HASHES, Session, SessionModel } from './session.model';
import { authResult, isLive, revokeById } from './session.service';
import { sameHash, sha256 } from '../core/crypto';
import { newRefreshSecret, parseRefreshToken } from './tokens';

export const invalidRefreshToken = () =>
  new UnauthenticatedError('Invalid or expired refresh token', { reason: 'REFRESH_TOKEN_INVALID' });

// ---------------------------------------------------------------- sealing the child secret

const keys = new WeakMap<Config['jwt'], Buffer>();

/** A key for sealing child secrets, derived from the server secret (never the signing key itself). */
function sealingKey(jwt: Config['jwt']): Buffer {
  let key = keys.get(jwt);
  if (!key) {
    key = Buffer.from(hkdfSync('sha256', jwt.secret, 'refresh-token-reuse', 'child-secret', 32));
    keys.set(jwt, key);
  }
  return key;
}

function seal(jwt: Config['jwt'], sessionId: string, secret: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', sealingKey(jwt), iv).setAAD(Buffer.from(sessionId));
  const body = Buffer.concat([cipher.update(secret, 'utf8'), cipher.final()]);
  return Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64url');
}

/** The sealed secret, or null when it cannot be opened (another server secret, tampering). */
function unseal(jwt: Config['jwt'], sessionId: string, sealed: string): string | null {
  try {
    const data = Buffer.from(sealed, 'base64url');
    const decipher = createDecipheriv('aes-256-gcm', sealingKey(jwt), data.subarray(0, 12));
    decipher.setAAD(Buffer.from(sessionId)).setAuthTag(data.subarray(12, 28));
    return Buffer.concat([decipher.update(data.subarray(28)), decipher.final()]).toString('utf8');
  } catch {
    return null;
  }
}

// ---------------------------------------------------------------- rotation

/** Within the reuse interval of the rotation that replaced `presented`: the child it produced. */
function childOf(config: Config, session: Session, presented: string): string | null {
  const interval = config.jwt.refreshReuseInterval * 1000;
  if (!session.parentHash || !session.rotatedAt || !session.sealedChild) return null;
  if (!sameHash(session.parentHash, presented)) return null;
  if (Date.now() - session.rotatedAt.getTime() > interval) return null;
  const child = unseal(config.jwt, session._id, session.sealedChild);
  return child && sameHash(sha256(child), session.tokenHash) ? child : null;
}

/**
 * Rotates a refresh token. Presenting the parent of the current token again within
 * REFRESH_REUSE_INTERVAL (two tabs refreshing at once) returns the same child and a fresh access
 * token. Presenting any other secret this session already rotated away means the token leaked:
 * the whole session is revoked. Any other wrong secret is simply refused, so nobody can end
 * someone else's session by guessing at it.
 */
export async function refresh(token: string, caller: Caller): Promise<AuthResult> {
  const { config, client } = caller;
  const parsed = parseRefreshToken(token);
  await limitAttempt(config, 'refreshToken', client.ip, parsed?.sessionId);
  if (!parsed) throw invalidRefreshToken();
  const session = await SessionModel.findById(parsed.sessionId).lean<Session>();
  if (!session || session.revokedAt) throw invalidRefreshToken();
  if (!isLive(config, session)) {
    await revokeById(session._id, session.userId);
    throw invalidRefreshToken();
  }
  const presented = sha256(parsed.secret);
  if (!sameHash(presented, session.tokenHash)) return replay(session, null, presented, caller);
  const user = await activeUser(session);

  const next = newRefreshSecret();
  const rotated = await atomically(`session:${session._id}`, () =>
    SessionModel.findOneAndUpdate(
      { _id: session._id, tokenHash: presented, revokedAt: null },
      {
        $set: {
          tokenHash: next.hash,
          previousHashes: [...(session.previousHashes ?? []), presented].slice(-MAX_PREVIOUS_HASHES),
          parentHash: presented,
          rotatedAt: new Date(),
          sealedChild: config.jwt.refreshReuseInterval > 0 ? seal(config.jwt, session._id, next.secret) : null,
          lastUsedAt: new Date(),
          ...(client.userAgent ? { userAgent: client.userAgent.slice(0, 512) } : {}),
        },
      },
      { returnDocument: 'after' },
    ).lean(),
  );
  if (rotated) return authResult(config, user, session, next.secret);
  // Another request rotated this same secret first (two tabs at once): read what it did.
  const now = await SessionModel.findById(session._id).lean<Session>();
  if (!now || now.revokedAt) throw invalidRefreshToken();
  return replay(now, user, presented, caller);
}

/** The user of a session, if it may still refresh; otherwise the session ends. */
async function activeUser(session: Session): Promise<User> {
  const user = await UserModel.findById(session.userId).lean<User>();
  if (!user || user.disabled || user.tokenVersion !== session.tokenVersion) {
    await revokeById(session._id, session.userId);
    throw invalidRefreshToken();
  }
  return user;
}

/**
 * A secret that is not the current one: the parent within the interval, reuse, or just wrong.
 * The user is read only when a child is handed out (`user` when the caller has it already).
 */
async function replay(session: Session, user: User | null, presented: string, caller: Caller): Promise<AuthResult> {
  const { config } = caller;
  const child = childOf(config, session, presented);
  if (child) return authResult(config, user ?? (await activeUser(session)), session, child);
  if (session.previousHashes?.some((h) => sameHash(h, presented))) {
    await revokeById(session._id, session.userId);
    audit(caller, AuthEvent.REFRESH_TOKEN_REUSED, {
      userId: session.userId,
      details: { sessionId: session._id },
    });
  }
  throw invalidRefreshToken();
}

/** Removes sealed child secrets once their reuse interval is over (housekeeping). */
export async function forgetSealedChildren(config: Config): Promise<void> {
  const cutoff = new Date(Date.now() - config.jwt.refreshReuseInterval * 1000);
  await SessionModel.updateMany(
    { sealedChild: op({ $ne: null }), rotatedAt: op({ $lt: cutoff }) },
    { $set: { sealedChild: null } },
  );
}
