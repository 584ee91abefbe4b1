import { createHmac } from 'node:crypto';
import os from 'node:os';
import bcrypt from 'bcrypt';
import { zxcvbn, zxcvbnOptions } from '@zxcvbn-ts/core';
import * as common from '@zxcvbn-ts/language-common';
import * as en from '@zxcvbn-ts/language-en';
import type { Config } from '../core/config';
import { BadUserInputError, ServiceUnavailableError } from '../core/errors';

zxcvbnOptions.setOptions({
  dictionary: { ...common.dictionary, ...en.dictionary },
  graphs: common.adjacencyGraphs,
  translations: en.translations,
});

export const MIN_PASSWORD_LENGTH = 8;
/** Characters (code points), whatever their UTF-8 length: long passphrases in any script fit. */
export const MAX_PASSWORD_LENGTH = 128;
/** zxcvbn score 0-4; 3 means "safely unguessable" against online attacks with throttling. */
const MIN_STRENGTH = 3;

export type HashingConfig = Pick<Config, 'bcryptCost' | 'bcryptMaxQueue'>;

export function validateNewPassword(password: string, field: string, userInputs: string[] = []): void {
  if ([...password].length < MIN_PASSWORD_LENGTH) {
    throw new BadUserInputError(field, `Password must be at least ${MIN_PASSWORD_LENGTH} characters`);
  }
  assertHashable(password, field);
  const { score, feedback } = zxcvbn(password, userInputs);
  if (score < MIN_STRENGTH) {
    const hint = feedback.warning || feedback.suggestions[0] || 'Add more words or characters';
    throw new BadUserInputError(field, `Password is too easy to guess: ${hint}`);
  }
}

/** No NUL (many clients and tools stop there) and at most 128 characters. */
export function assertHashable(password: string, field: string): void {
  if (password.includes('\0')) throw new BadUserInputError(field, 'Password must not contain NUL characters');
  if ([...password].length > MAX_PASSWORD_LENGTH) {
    throw new BadUserInputError(field, `Password must be at most ${MAX_PASSWORD_LENGTH} characters`);
  }
}

// ---------------------------------------------------------------- the hashing queue

// bcrypt's async calls run on libuv's thread pool; bounding them keeps a burst of logins from
// queueing every other piece of thread-pool work (DNS, file I/O) behind hashing.
const MAX_CONCURRENT_HASHES = Math.max(1, Math.min(4, os.availableParallelism()));
let running = 0;
const waiting: Array<() => void> = [];

/**
 * Runs one bcrypt call, or refuses at once (503) when `maxQueue` calls already wait: a flood of
 * password checks must not make every sign-in wait without end.
 */
async function limited<T>(maxQueue: number, fn: () => Promise<T>): Promise<T> {
  if (running < MAX_CONCURRENT_HASHES) {
    running++;
  } else {
    if (waiting.length >= maxQueue)
      throw new ServiceUnavailableError(1, 'Too many sign-ins at once, try again shortly');
    // The finishing call hands its slot over (running stays as it is), so no newcomer slips in.
    await new Promise<void>((resolve) => waiting.push(resolve));
  }
  try {
    return await fn();
  } finally {
    const next = waiting.shift();
    if (next) next();
    else running--;
  }
}

// ---------------------------------------------------------------- hashes

/**
 * New hashes are bcrypt over HMAC-SHA256(key = bcrypt salt, password), base64: 44 bytes, so
 * bcrypt's 72-byte cap never truncates a passphrase, and salting the pre-hash means a leaked
 * plain SHA-256 of a password cannot be tested against our hashes. Plain bcrypt hashes written
 * before this stay valid and are upgraded at the next successful sign-in.
 */
const PREFIX = '$bcrypt-sha256$';
const BCRYPT_SALT_LENGTH = 29; // "$2b$12$" + 22 salt characters

function preHash(password: string, salt: string): string {
  return createHmac('sha256', salt).update(password, 'utf8').digest('base64');
}

export function hashPassword(config: HashingConfig, password: string): Promise<string> {
  return limited(config.bcryptMaxQueue, async () => {
    const salt = await bcrypt.genSalt(config.bcryptCost);
    return PREFIX + (await bcrypt.hash(preHash(password, salt), salt));
  });
}

export function verifyPassword(config: HashingConfig, password: string, hash: string): Promise<boolean> {
  if (hash.startsWith(PREFIX)) {
    const inner = hash.slice(PREFIX.length);
    const candidate = preHash(password, inner.slice(0, BCRYPT_SALT_LENGTH));
    return limited(config.bcryptMaxQueue, () => bcrypt.compare(candidate, inner));
  }
  // A legacy plain-bcrypt hash: bcrypt would ignore bytes after the 72nd, so a longer password
  // can never be the one that was stored. It still costs a comparison, so that the answer takes
  // as long as for any other account (or an unknown email).
  if (Buffer.byteLength(password, 'utf8') > 72) {
    return dummyHash(config).then((dummy) => verifyPassword(config, password, dummy).then(() => false));
  }
  return limited(config.bcryptMaxQueue, () => bcrypt.compare(password, hash));
}

/**
 * True for hashes to rewrite once the password is known: written before the pre-hash scheme, or
 * at another cost than BCRYPT_COST (which would also make their comparisons faster or slower
 * than the dummy hash's).
 */
export function needsRehash(config: HashingConfig, hash: string): boolean {
  const inner = hash.startsWith(PREFIX) ? hash.slice(PREFIX.length) : null;
  return inner === null || bcrypt.getRounds(inner) !== config.bcryptCost;
}

const dummyHashes = new Map<number, Promise<string>>();

/** A fixed hash at the configured cost, compared against for unknown emails so they take as long. */
export function dummyHash(config: HashingConfig): Promise<string> {
  let hash = dummyHashes.get(config.bcryptCost);
  if (!hash) {
    hash = bcrypt
      .genSalt(config.bcryptCost)
      .then(async (salt) => PREFIX + (await bcrypt.hash(preHash('not-a-password-of-anyone', salt), salt)));
    dummyHashes.set(config.bcryptCost, hash);
  }
  return hash;
}
