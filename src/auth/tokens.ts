import { createSecretKey, randomBytes, type KeyObject } from 'node:crypto';
import jwt from 'jsonwebtoken';
import type { Config } from '../core/config';
import { sha256 } from '../core/crypto';

export interface AccessClaims {
  sub: string;
  role: string;
  /** The user's token version when issued; a bump revokes every older token. */
  tv: number;
  /** The session this token was issued with: the token works only while that session is active. */
  sid: string;
}

export interface VerifiedAccess extends AccessClaims {
  iat: number;
  exp: number;
}

const keys = new WeakMap<Config['jwt'], KeyObject>();

/**
 * A KeyObject built once: given a string, jsonwebtoken first tries to parse it as a PEM key on
 * every call, which costs far more than the HMAC itself.
 */
function keyFor(jwtConfig: Config['jwt']): KeyObject {
  let key = keys.get(jwtConfig);
  if (!key) {
    key = createSecretKey(Buffer.from(jwtConfig.secret, 'utf8'));
    keys.set(jwtConfig, key);
  }
  return key;
}

export function signAccessToken(claims: AccessClaims, jwtConfig: Config['jwt']): string {
  return jwt.sign({ role: claims.role, tv: claims.tv, sid: claims.sid }, keyFor(jwtConfig), {
    algorithm: 'HS256',
    subject: claims.sub,
    issuer: jwtConfig.issuer,
    audience: jwtConfig.audience,
    expiresIn: jwtConfig.accessTokenTtl,
  });
}

/**
 * Verifies signature (HS256 only), exp (required), nbf, iss and aud. Returns null when anything is
 * off, or 'expired' for a token that is valid in every way but its age (clients refresh on that).
 */
export function verifyAccessToken(token: string, jwtConfig: Config['jwt']): VerifiedAccess | 'expired' | null {
  try {
    const payload = jwt.verify(token, keyFor(jwtConfig), {
      algorithms: ['HS256'],
      issuer: jwtConfig.issuer,
      audience: jwtConfig.audience,
    });
    if (typeof payload !== 'object' || payload === null) return null;
    const { sub, role, tv, sid, iat, exp } = payload as Record<string, unknown>;
    if (typeof exp !== 'number' || typeof iat !== 'number') return null;
    if (typeof sub !== 'string' || typeof role !== 'string' || typeof tv !== 'number') return null;
    if (typeof sid !== 'string') return null;
    return { sub, role, tv, sid, iat, exp };
  } catch (err) {
    return err instanceof jwt.TokenExpiredError ? 'expired' : null;
  }
}

/**
 * Refresh tokens: `<session id>.<256 random bits>`. Session ids are 128 random bits, so knowing
 * one's own says nothing about anyone else's; only a SHA-256 of the secret part is stored.
 */
export function newSessionId(): string {
  return randomBytes(16).toString('base64url');
}

export const SESSION_ID = /^[A-Za-z0-9_-]{22}$/;

export function newRefreshSecret(): { secret: string; hash: string } {
  const secret = randomBytes(32).toString('base64url');
  return { secret, hash: sha256(secret) };
}

export function formatRefreshToken(sessionId: string, secret: string): string {
  return `${sessionId}.${secret}`;
}

export function parseRefreshToken(token: string): { sessionId: string; secret: string } | null {
  const match = /^([A-Za-z0-9_-]{22})\.([A-Za-z0-9_-]{43})$/.exec(token);
  return match ? { sessionId: match[1]!, secret: match[2]! } : null;
}
