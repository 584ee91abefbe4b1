import { createHash, timingSafeEqual } from 'node:crypto';

/** The hex SHA-256 of a random secret: what is stored for refresh tokens, link tokens and API keys. */
export function sha256(value: string): string {
  return createHash('sha256').update(value).digest('hex');
}

/** Compares two digests (hex, base64url: any text encoding) in constant time. */
export function sameHash(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
