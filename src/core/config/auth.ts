import { hkdfSync, randomBytes } from 'node:crypto';
import { z } from 'zod';
import { secretWeakness } from './secrets';
import { ConfigError, int, section } from './section';
import type { ServerSettings } from './server';

const secret = z.string().refine((s) => Buffer.byteLength(s, 'utf8') >= 32, 'must be at least 32 bytes long');

/** Sign-in and its secrets: tokens and sessions, API keys, TOTP, password hashing, lockout. */
export const auth = section(
  {
    JWT_SECRET: secret.optional(),
    JWT_ISSUER: z.string().min(1).default('graphql-auth-items-api'),
    JWT_AUDIENCE: z.string().min(1).default('graphql-auth-items-api'),
    API_KEY_PEPPER: secret.optional(),
    API_KEY_RATE_LIMIT: int(1, 1_000_000_000).default(600),
    // 32 random bytes (AES-256), as base64 (44 characters) or hex (64): `openssl rand -base64 32`.
    TOTP_ENCRYPTION_KEY: z
      .string()
      .transform((s) => (/^[0-9a-fA-F]{64}$/.test(s) ? Buffer.from(s, 'hex') : Buffer.from(s, 'base64')))
      .refine((key) => key.length === 32, 'must be 32 bytes, as base64 or hex (`openssl rand -base64 32`)')
      .transform((key) => key.toString('base64url'))
      .optional(),
    ACCESS_TOKEN_TTL: int(1, 86_400).default(900),
    REFRESH_TOKEN_TTL: int(60, 365 * 86_400).default(30 * 86_400),
    BCRYPT_COST: int(4, 15).default(12),
    BCRYPT_MAX_QUEUE: int(0, 10_000).default(32),
    SESSION_IDLE_TIMEOUT: int(60, 365 * 86_400).default(14 * 86_400),
    REFRESH_REUSE_INTERVAL: int(0, 30).default(10),
    LOGIN_MAX_ATTEMPTS: int(1, 1000).default(5),
    LOGIN_LOCK_SECONDS: int(1, 86_400).default(900),
    BASIC_AUTH_CACHE_SECONDS: int(0, 60).default(60),
  },
  (v, { isProduction }: ServerSettings) => {
    if (isProduction) {
      if (!v.JWT_SECRET) throw new ConfigError('JWT_SECRET: is required when NODE_ENV=production (at least 32 bytes)');
      refuseGuessable('JWT_SECRET', v.JWT_SECRET);
      refuseGuessable('API_KEY_PEPPER', v.API_KEY_PEPPER);
      if (v.BCRYPT_COST < 10)
        throw new ConfigError(`BCRYPT_COST: must be at least 10 when NODE_ENV=production (got "${v.BCRYPT_COST}")`);
    }
    const jwtSecret = v.JWT_SECRET ?? randomBytes(48).toString('base64url');
    return {
      jwt: {
        secret: jwtSecret,
        /** True when no JWT_SECRET was given and a per-process one was generated. */
        generated: v.JWT_SECRET === undefined,
        issuer: v.JWT_ISSUER,
        audience: v.JWT_AUDIENCE,
        accessTokenTtl: v.ACCESS_TOKEN_TTL,
        refreshTokenTtl: v.REFRESH_TOKEN_TTL,
        /** A session whose refresh token goes unused this long (seconds) ends. */
        sessionIdleTimeout: v.SESSION_IDLE_TIMEOUT,
        /** Seconds after a rotation during which the parent refresh token returns the same child. */
        refreshReuseInterval: v.REFRESH_REUSE_INTERVAL,
      },
      /** API keys (src/apikeys): the HMAC pepper their secrets are stored under, and requests per key per window. */
      apiKeys: {
        // Rotating JWT_SECRET invalidates every API key stored under a derived pepper: set
        // API_KEY_PEPPER to keep them apart.
        pepper: v.API_KEY_PEPPER ?? derivedKey(jwtSecret, 'api-key pepper'),
        requestsPerWindow: v.API_KEY_RATE_LIMIT,
      },
      /** TOTP two-factor sign-in (src/mfa): the AES-256-GCM key its secrets are stored under (32 bytes, base64url). */
      totp: {
        // Rotating JWT_SECRET makes every TOTP secret stored under a derived key unreadable (those
        // users need an admin's resetUserTotp): set TOTP_ENCRYPTION_KEY to keep them apart.
        encryptionKey: v.TOTP_ENCRYPTION_KEY ?? derivedKey(jwtSecret, 'totp encryption key'),
      },
      bcryptCost: v.BCRYPT_COST,
      /** Password checks allowed to wait for a hashing thread; past that, 503 at once. */
      bcryptMaxQueue: v.BCRYPT_MAX_QUEUE,
      login: { maxAttempts: v.LOGIN_MAX_ATTEMPTS, lockSeconds: v.LOGIN_LOCK_SECONDS },
      basicAuthCacheSeconds: v.BASIC_AUTH_CACHE_SECONDS,
    };
  },
);

function refuseGuessable(name: string, value: string | undefined): void {
  const weakness = value === undefined ? undefined : secretWeakness(value);
  if (weakness) {
    throw new ConfigError(
      `${name}: is easy to guess (${weakness}) when NODE_ENV=production; generate one with \`openssl rand -base64 48\``,
    );
  }
}

/**
 * Without API_KEY_PEPPER or TOTP_ENCRYPTION_KEY, a key derived from the JWT secret (HKDF-SHA256,
 * each under its own label), so a development setup works and the JWT secret alone is never the
 * stored keys' HMAC key nor the TOTP secrets' encryption key.
 */
function derivedKey(jwtSecret: string, label: string): string {
  return Buffer.from(hkdfSync('sha256', jwtSecret, '', `graphql-auth-items-api ${label}`, 32)).toString('base64url');
}
