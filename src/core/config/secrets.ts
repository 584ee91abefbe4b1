import { readFileSync } from 'node:fs';
import { isProviderSecret } from './oidc';
import { ConfigError, type Env } from './section';

/** Secrets that may also be given as `<NAME>_FILE` (Docker/Compose secrets). */
export const SECRET_VARIABLES = [
  'MONGODB_URI',
  'JWT_SECRET',
  'ADMIN_PASSWORD',
  'SMTP_URL',
  'REDIS_URL',
  'API_KEY_PEPPER',
  'TOTP_ENCRYPTION_KEY',
] as const;

/** A secret: never echoed in an error, readable from `<name>_FILE`. Providers' client secrets too. */
export function isSecretVariable(name: string): boolean {
  return SECRET_VARIABLES.some((s) => name.startsWith(s)) || isProviderSecret(name.replace(/_FILE$/, ''));
}

/** Resolves `X_FILE` into `X`, so the schema only ever sees plain values. */
export function resolveSecretFiles(env: Env): Env {
  const out: Env = { ...env };
  const providerSecrets = Object.keys(env)
    .map((name) => name.replace(/_FILE$/, ''))
    .filter(isProviderSecret);
  for (const name of [...SECRET_VARIABLES, ...new Set(providerSecrets)]) {
    const file = env[`${name}_FILE`];
    if (file === undefined || file === '') continue;
    if (env[name] !== undefined && env[name] !== '') {
      throw new ConfigError(`${name}: set either ${name} or ${name}_FILE, not both`);
    }
    try {
      out[name] = readFileSync(file, 'utf8').replace(/\r?\n$/, '');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? 'unreadable';
      throw new ConfigError(`${name}_FILE: cannot read "${file}" (${code})`);
    }
  }
  return out;
}

/**
 * Why a secret is obviously low-entropy, or undefined. Length alone lets `aaaa…` or
 * `changemechangeme…` through. The bounds leave every random value of at least 32 characters
 * alone: `openssl rand -hex 16` (the weakest common generator) shows at least 9 distinct
 * characters and 89 bits by the count below in 300 000 draws.
 */
export function secretWeakness(secret: string): string | undefined {
  const chars = [...secret];
  for (let period = 1; period <= 16 && period * 2 <= chars.length; period++) {
    if (chars.every((c, i) => c === chars[i % period])) return 'a repeated character or pattern';
  }
  const counts = new Map<string, number>();
  for (const c of chars) counts.set(c, (counts.get(c) ?? 0) + 1);
  if (counts.size < 8) return 'fewer than 8 distinct characters';
  // Bits by character frequency (Shannon): catches `aaaa…aaabcdefgh`, mostly one character.
  let bits = 0;
  for (const n of counts.values()) bits -= n * Math.log2(n / chars.length);
  if (bits < 64) return 'mostly the same few characters';
  return undefined;
}
