import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto';
import { HOTP, Secret } from 'otpauth';
import type { Config } from '../core/config';

/** RFC 6238 defaults, which every authenticator app supports: SHA-1, 6 digits, 30-second steps. */
export const TOTP_PERIOD_SECONDS = 30;
export const TOTP_DIGITS = 6;
/** Steps either side of now that are accepted: clocks drift and people type slowly. */
export const TOTP_WINDOW = 1;
export const RECOVERY_CODE_COUNT = 10;

const VERSION = 'v1';

function encryptionKey(config: Config): Buffer {
  return Buffer.from(config.totp.encryptionKey, 'base64url');
}

/**
 * The secret under AES-256-GCM with a random 96-bit IV; the user id is the associated data, so
 * a stored secret copied onto another user's record does not decrypt.
 */
export function encryptSecret(config: Config, userId: string, secret: Uint8Array): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', encryptionKey(config), iv);
  cipher.setAAD(Buffer.from(`totp:${userId}`));
  const data = Buffer.concat([cipher.update(secret), cipher.final()]);
  return [VERSION, iv, cipher.getAuthTag(), data]
    .map((p) => (typeof p === 'string' ? p : p.toString('base64url')))
    .join('.');
}

/** The secret, or null when it does not decrypt (another key, e.g. after JWT_SECRET changed). */
export function decryptSecret(config: Config, userId: string, stored: string): Buffer | null {
  const [version, iv, tag, data] = stored.split('.');
  if (version !== VERSION || !iv || !tag || data === undefined) return null;
  try {
    const decipher = createDecipheriv('aes-256-gcm', encryptionKey(config), Buffer.from(iv, 'base64url'));
    decipher.setAAD(Buffer.from(`totp:${userId}`));
    decipher.setAuthTag(Buffer.from(tag, 'base64url'));
    return Buffer.concat([decipher.update(Buffer.from(data, 'base64url')), decipher.final()]);
  } catch {
    return null;
  }
}

/** 160 random bits, the length RFC 4226 recommends for an HMAC-SHA1 key. */
export function newSecret(): Secret {
  return new Secret({ size: 20 });
}

export function stepAt(timeMs: number): number {
  return Math.floor(timeMs / 1000 / TOTP_PERIOD_SECONDS);
}

/** The code for one step (HOTP with the step as counter is exactly TOTP). */
export function codeAt(secret: Uint8Array, step: number): string {
  return HOTP.generate({
    secret: new Secret({ buffer: Uint8Array.from(secret).buffer }),
    counter: step,
    digits: TOTP_DIGITS,
  });
}

/** The step within the window whose code matches, compared in constant time; null when none. */
export function matchingStep(secret: Uint8Array, code: string, now = Date.now()): number | null {
  const current = stepAt(now);
  let found: number | null = null;
  for (let step = current - TOTP_WINDOW; step <= current + TOTP_WINDOW; step++) {
    if (timingSafeEqual(Buffer.from(codeAt(secret, step)), Buffer.from(code)) && found === null) found = step;
  }
  return found;
}

const TOTP_CODE = new RegExp(`^\\d{${TOTP_DIGITS}}$`);

/** A six-digit code, spaces allowed (apps show "123 456"); anything else is not a TOTP code. */
export function asTotpCode(raw: string): string | null {
  const code = raw.replace(/\s+/g, '');
  return TOTP_CODE.test(code) ? code : null;
}

// Crockford's base32 without I, L, O, U: nothing to misread when typing a code from paper.
const ALPHABET = '0123456789abcdefghjkmnpqrstvwxyz';

/** 80 random bits each, shown as xxxx-xxxx-xxxx-xxxx. */
export function newRecoveryCodes(): string[] {
  return Array.from({ length: RECOVERY_CODE_COUNT }, () => {
    const chars = [...randomBytes(16)].map((b) => ALPHABET[b & 31]).join('');
    return chars.match(/.{4}/g)!.join('-');
  });
}

/** Case, hyphens and spaces do not matter when a recovery code is typed back. */
export function normalizeRecoveryCode(raw: string): string {
  return raw.toLowerCase().replace(/[\s-]+/g, '');
}

/**
 * How a recovery code is stored: an HMAC under a key derived from the encryption key. The codes
 * carry 80 random bits, so a slow hash adds nothing; the key keeps a database dump from being
 * checked offline, and the user id binds each hash to its owner.
 */
export function recoveryCodeHash(config: Config, userId: string, code: string): string {
  const key = Buffer.from(hkdfSync('sha256', encryptionKey(config), '', 'totp recovery codes', 32));
  return createHmac('sha256', key)
    .update(`${userId}:${normalizeRecoveryCode(code)}`)
    .digest('base64url');
}
