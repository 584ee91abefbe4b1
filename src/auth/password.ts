import os from 'node:os';
import bcrypt from 'bcrypt';
import { zxcvbn, zxcvbnOptions } from '@zxcvbn-ts/core';
import * as common from '@zxcvbn-ts/language-common';
import * as en from '@zxcvbn-ts/language-en';
import { BadUserInputError } from '../core/errors';

zxcvbnOptions.setOptions({
  dictionary: { ...common.dictionary, ...en.dictionary },
  graphs: common.adjacencyGraphs,
  translations: en.translations,
});

export const MIN_PASSWORD_LENGTH = 8;
/** bcrypt ignores everything after 72 bytes: longer passwords are refused, never truncated. */
export const MAX_PASSWORD_BYTES = 72;
/** zxcvbn score 0-4; 3 means "safely unguessable" against online attacks with throttling. */
const MIN_STRENGTH = 3;

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

/** Checks that bcrypt will see the whole password: no NUL (C strings stop there), at most 72 bytes. */
export function assertHashable(password: string, field: string): void {
  if (password.includes('\0')) throw new BadUserInputError(field, 'Password must not contain NUL characters');
  if (Buffer.byteLength(password, 'utf8') > MAX_PASSWORD_BYTES) {
    throw new BadUserInputError(field, `Password must be at most ${MAX_PASSWORD_BYTES} bytes in UTF-8`);
  }
}

// bcrypt's async calls run on libuv's thread pool; bounding them keeps a burst of logins from
// queueing every other piece of thread-pool work (DNS, file I/O) behind hashing.
const MAX_CONCURRENT_HASHES = Math.max(1, Math.min(4, os.availableParallelism()));
let running = 0;
const waiting: Array<() => void> = [];

async function limited<T>(fn: () => Promise<T>): Promise<T> {
  if (running >= MAX_CONCURRENT_HASHES) await new Promise<void>((resolve) => waiting.push(resolve));
  running++;
  try {
    return await fn();
  } finally {
    running--;
    waiting.shift()?.();
  }
}

export function hashPassword(password: string, cost: number): Promise<string> {
  return limited(() => bcrypt.hash(password, cost));
}

export function verifyPassword(password: string, hash: string): Promise<boolean> {
  return limited(() => bcrypt.compare(password, hash));
}

const dummyHashes = new Map<number, Promise<string>>();

/** A fixed hash at the configured cost, compared against for unknown emails so they take as long. */
export function dummyHash(cost: number): Promise<string> {
  let hash = dummyHashes.get(cost);
  if (!hash) {
    hash = bcrypt.hash('not-a-password-of-anyone', cost);
    dummyHashes.set(cost, hash);
  }
  return hash;
}
