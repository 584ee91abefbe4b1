import { createHmac, hkdfSync, randomInt } from 'node:crypto';
import { z } from 'zod';
import { audit, AuthEvent } from '../auth/auth.audit';
import {
  emailSchema,
  MFA_INVALID,
  mfaRequired,
  normalizeEmail,
  proveCodeUnderLockout,
  recordFailure,
} from '../auth/credentials.service';
import { startSession } from '../auth/session.service';
import type { AuthResult, SignInVia } from '../auth/sign-in';
import type { Config } from '../core/config';
import type { Caller } from '../core/context';
import { sameHash } from '../core/crypto';
import { accountDisabled, UnauthenticatedError } from '../core/errors';
import { checkSecondFactor } from '../core/hooks';
import { parseInput } from '../core/validation';
import { atomically, op } from '../infra/db';
import { countInWindow, limitAttempt } from '../infra/rate-limit';
import { deleteMailById, queueMail } from '../mail/mail.service';
import { reserveAttempt } from '../users/lockout.service';
import { undoUnlessUserActive } from '../users/user.guard';
import { User, UserModel } from '../users/user.model';
import { greetingName } from '../users/user.profile';
import { claimUnprovenAccount } from './account-claim';
import { PasswordlessEvent } from './passwordless.audit';
import { SignInCode, SignInCodeModel } from './sign-in-code.model';

/** How long a mailed code works. */
export const CODE_TTL_MINUTES = 10;
/** Wrong codes tried against one code that void it. */
export const MAX_CODE_MISSES = 5;
/** At most this many code mails per address per CODE_TTL_MINUTES. */
const MAILS_PER_WINDOW = 3;
const CODE = /^\d{6}$/;

/** `extensions.reason` of an unknown email and of a wrong, expired, used or void code alike. */
export const CODE_INVALID = 'CODE_INVALID';
export const codeInvalid = () => new UnauthenticatedError('Invalid or expired code', { reason: CODE_INVALID });

/** The per-user queue every write to a user's code goes through (FerretDB). */
const codeKey = (id: string) => `sign-in-code:${id}`;

/** Whose code is checked: an account, or an unknown email (an id no account has, so it never matches). */
interface Subject {
  id: string;
  email: string;
}

const subjectOf = (user: User | null, email: string): Subject =>
  user ? { id: String(user._id), email: user.email } : { id: `unknown:${email}`, email };

/**
 * HMAC-SHA256 under a key of its own derived from a server secret: a million codes are too few for
 * a plain hash to hide one. The user id is mixed in, so equal codes of two users differ.
 */
function codeHash(config: Config, userId: string, code: string): string {
  const key = Buffer.from(hkdfSync('sha256', config.apiKeys.pepper, '', 'sign-in code', 32));
  return createHmac('sha256', key).update(`${userId}:${code}`).digest('base64url');
}

/** A code as typed: spaces (`123 456`) are dropped; anything else that is not 6 digits never matches. */
const asCode = (raw: unknown): string => (typeof raw === 'string' ? raw.replace(/\s/g, '') : '');

// ---------------------------------------------------------------- mailing a code

const pending = new Set<Promise<void>>();

/**
 * `requestSignInCode`: true for any well-formed email. The lookup, the per-address throttle and
 * the mail run after the answer, so status, body and timing are the same whether an account has
 * the address or not; only an existing enabled account gets a code.
 */
export async function requestSignInCode(
  rawEmail: string,
  caller: Caller,
  afterResponse: (run: () => void) => void = (run) => run(),
): Promise<boolean> {
  const { email } = parseInput(z.object({ email: emailSchema }), { email: rawEmail });
  await limitAttempt(caller.config, 'signInCode', caller.client.ip);
  const work = new Promise<void>((resolve) => afterResponse(resolve))
    .then(() => mailCode(email, caller))
    .catch((err: unknown) => caller.logger.error({ err }, 'sign-in code request failed'));
  pending.add(work);
  void work.finally(() => pending.delete(work));
  return true;
}

/** For tests and shutdown: waits for code requests still being processed after their answer. */
export async function flushSignInCodes(): Promise<void> {
  await Promise.all([...pending]);
}

async function mailCode(email: string, caller: Caller): Promise<void> {
  const { config, logger } = caller;
  const user = await UserModel.findOne({ email }).lean<User>();
  if (!user || user.disabled) return;
  const userId = String(user._id);
  const window = { windowSeconds: CODE_TTL_MINUTES * 60, cap: MAILS_PER_WINDOW };
  if (!(await countInWindow(`signInCode:email:${email}`, window)).counted) {
    logger.info({ userId }, 'sign-in code mail throttled');
    return;
  }
  const { code, hash } = await issueCode(config, user);
  const data = { code, displayName: greetingName(user), expiresInMinutes: CODE_TTL_MINUTES };
  const mailId = await queueMail(config, { to: email, userId, template: 'sign-in-code', data }, logger);
  // Disabled, deleted or signed out everywhere meanwhile: that sweep may have missed this code.
  const undo = () => Promise.all([SignInCodeModel.deleteOne({ _id: userId, codeHash: hash }), deleteMailById(mailId)]);
  await undoUnlessUserActive(userId, undo, user.tokenVersion);
  audit(caller, PasswordlessEvent.SIGN_IN_CODE_SENT, { userId });
}

/** A new code for the user, replacing any earlier one in one write. */
async function issueCode(config: Config, user: User): Promise<{ code: string; hash: string }> {
  const userId = String(user._id);
  const code = String(randomInt(1_000_000)).padStart(6, '0');
  const hash = codeHash(config, userId, code);
  const expiresAt = new Date(Date.now() + CODE_TTL_MINUTES * 60_000);
  await atomically(codeKey(userId), () =>
    SignInCodeModel.updateOne(
      { _id: userId },
      { $set: { codeHash: hash, email: user.email, misses: 0, expiresAt } },
      { upsert: true },
    ),
  );
  return { code, hash };
}

// ---------------------------------------------------------------- checking a code

/** The live code matches: same address, unexpired, not void, and the HMAC equal (constant time). */
function matches(config: Config, live: SignInCode | null, subject: Subject, code: string): live is SignInCode {
  // Hashed whether or not a code was found, so a missing code takes as long as a wrong one.
  const hash = codeHash(config, subject.id, CODE.test(code) ? code : '');
  if (!live || !CODE.test(code) || live.email !== subject.email) return false;
  return live.misses < MAX_CODE_MISSES && live.expiresAt.getTime() > Date.now() && sameHash(live.codeHash, hash);
}

/**
 * Checks a code against the subject's live one and, when it matches and `beforeUse` agrees, uses
 * it up: true, or null for a miss. A wrong code is counted on the live code; the fifth, or one
 * that took the last lockout slot (`last`), voids it. Both paths make the same database round
 * trips whether or not there is an account or a code.
 */
async function useCode(
  config: Config,
  subject: Subject,
  code: string,
  last: boolean,
  beforeUse?: () => Promise<boolean>,
): Promise<true | null> {
  const live = await SignInCodeModel.findById(subject.id).lean<SignInCode>();
  if (!matches(config, live, subject, code)) {
    await countMiss(subject.id, live, last);
    return null;
  }
  if (beforeUse && !(await beforeUse())) return null;
  return (await takeCode(live)) || null;
}

async function countMiss(id: string, live: SignInCode | null, last: boolean): Promise<void> {
  // Only against the code that was checked: a newer one mailed meanwhile starts afresh.
  const filter = { _id: id, codeHash: live?.codeHash ?? '' };
  await atomically(codeKey(id), async () => {
    const after = await SignInCodeModel.findOneAndUpdate(
      filter,
      { $inc: { misses: 1 } },
      { returnDocument: 'after' },
    ).lean<SignInCode>();
    if (after && (last || after.misses >= MAX_CODE_MISSES)) await SignInCodeModel.deleteOne(filter);
  });
}

/** Uses a matched code up: of two requests with one code, only the first gets it. */
async function takeCode(live: SignInCode): Promise<boolean> {
  const now = new Date();
  const taken = await atomically(codeKey(live._id), () =>
    SignInCodeModel.findOneAndDelete({
      _id: live._id,
      codeHash: live.codeHash,
      misses: op({ $lt: MAX_CODE_MISSES }),
      expiresAt: op({ $gt: now }),
    }).lean<SignInCode>(),
  );
  return taken !== null;
}

/**
 * reauthenticate's email-code proof: the user's live sign-in code and, with TOTP on, a TOTP or
 * recovery code, under one lockout slot: as at signInWithCode, only both right use the code up
 * and clear the failures (neither alone resets the count before guesses of the other). Answers
 * which one was wrong, or null when the proof holds.
 */
export async function proveSignInCode(
  account: User,
  code: string,
  totpCode: string | null | undefined,
  caller: Caller,
): Promise<'emailCode' | 'totpCode' | null> {
  const subject = subjectOf(account, account.email);
  let wrongFactor = false;
  const secondFactor = async () => {
    wrongFactor = !totpCode || !(await secondFactorMatches(account, totpCode, caller, 'reauthenticate'));
    return !wrongFactor;
  };
  const proven = await proveCodeUnderLockout(account, caller, 'reauthenticate', (last) =>
    useCode(caller.config, subject, asCode(code), last, account.totpEnabled ? secondFactor : undefined),
  );
  if (proven) return null;
  return wrongFactor ? 'totpCode' : 'emailCode';
}

// ---------------------------------------------------------------- signing in

/**
 * `signInWithCode`: the code mailed by requestSignInCode, under the sign-in lockout (an unknown
 * email takes a slot and fails alike). With TOTP on, the email code is checked first, then the
 * TOTP or recovery code, and only both together use the email code up and clear the failures.
 */
export async function signInWithCode(
  input: { email: string; code: string; totpCode?: string | null },
  caller: Caller,
): Promise<AuthResult> {
  const { config } = caller;
  const via: SignInVia = 'signInWithCode';
  const email = normalizeEmail(input.email) ?? '';
  await limitAttempt(config, 'signInCode', caller.client.ip, email);
  const user = await UserModel.findOne({ email }).lean<User>();
  let wrongFactor = false;
  const secondFactor = async () => {
    // A missing code gives the lockout slot back and leaves the email code usable.
    if (!input.totpCode) throw mfaRequired();
    wrongFactor = !(await secondFactorMatches(user!, input.totpCode, caller, via));
    return !wrongFactor;
  };
  const verify = (last: boolean) =>
    useCode(config, subjectOf(user, email), asCode(input.code), last, user?.totpEnabled ? secondFactor : undefined);
  const proven = user
    ? await proveCodeUnderLockout(user, caller, via, verify)
    : await unknownEmail(email, caller, verify);
  if (!proven || !user) {
    throw wrongFactor ? new UnauthenticatedError('Invalid two-factor code', { reason: MFA_INVALID }) : codeInvalid();
  }
  if (user.disabled) throw accountDisabled();
  // The code reached the mailbox: the address is proven, and if that is news, the account is claimed.
  const signedIn = user.emailVerified ? user : await claimUnprovenAccount(user, caller);
  audit(caller, AuthEvent.LOGIN_SUCCEEDED, {
    userId: String(user._id),
    details: { via, ...(!user.emailVerified && { claimed: true }) },
  });
  return startSession(signedIn, caller);
}

/** A TOTP or recovery code; a used recovery code is audited as at password sign-in. */
async function secondFactorMatches(user: User, code: string, caller: Caller, via: SignInVia): Promise<boolean> {
  const userId = String(user._id);
  const factor = await checkSecondFactor(userId, code, caller);
  if (factor === 'recovery') audit(caller, AuthEvent.MFA_RECOVERY_CODE_USED, { userId, details: { via } });
  return factor !== null;
}

/**
 * An email no account has: a lockout slot and the same reads and writes as a wrong code, then a
 * failed sign-in, so neither the answer, its timing nor the lockout tells it from a known one.
 */
async function unknownEmail(email: string, caller: Caller, verify: (last: boolean) => Promise<unknown>): Promise<null> {
  const slot = await reserveAttempt(caller.config, email);
  await verify(slot.last);
  recordFailure(caller, { ok: false, locked: slot.last }, { userId: null, email, via: 'signInWithCode' });
  return null;
}

// ---------------------------------------------------------------- housekeeping

/** Drops the user's pending code (deletion, disable, password reset); answers how many went. */
export async function deleteSignInCodeOf(userId: string): Promise<number> {
  return (await SignInCodeModel.deleteMany({ _id: userId })).deletedCount;
}

/** Deletes expired codes (FerretDB has no TTL indexes, so this runs on a timer). */
export async function deleteExpiredSignInCodes(): Promise<number> {
  return (await SignInCodeModel.deleteMany({ expiresAt: op({ $lt: new Date() }) })).deletedCount;
}
