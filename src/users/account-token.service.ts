import { randomBytes } from 'node:crypto';
import { sha256 } from '../core/crypto';
import { atomically, op } from '../infra/db';
import { BadUserInputError, TooManyRequestsError } from '../core/errors';
import { countInWindow, countRefusal } from '../infra/rate-limit';
import { deleteMailById } from '../mail/mail.service';
import { AccountToken, AccountTokenKind, AccountTokenModel } from './account-token.model';
import { undoUnlessUserActive } from './user.guard';

/** One message for an unknown, used and expired link, so none of them can be told apart. */
export const invalidLink = () => new BadUserInputError('token', 'This link is invalid or has expired');

/**
 * Issues a link token (32 random bytes, base64url) for a user. It replaces any earlier token of
 * the same kind for that user in one write: only the newest link works.
 */
export async function issueToken(
  userId: string,
  kind: AccountTokenKind,
  email: string,
  ttlSeconds: number,
): Promise<string> {
  const token = randomBytes(32).toString('base64url');
  const _id = `${kind}:${userId}`;
  await atomically(`account-token:${_id}`, () =>
    AccountTokenModel.updateOne(
      { _id },
      { $set: { tokenHash: sha256(token), userId, kind, email, expiresAt: new Date(Date.now() + ttlSeconds * 1000) } },
      { upsert: true },
    ),
  );
  return token;
}

const TOKEN = /^[A-Za-z0-9_-]{43}$/;

/** The live token of this kind, without using it (so a refused password keeps a reset link usable). */
export async function findToken(token: string, kind: AccountTokenKind): Promise<AccountToken> {
  if (typeof token !== 'string' || !TOKEN.test(token)) throw invalidLink();
  const doc = await AccountTokenModel.findOne({ tokenHash: sha256(token), kind }).lean<AccountToken>();
  if (!doc || doc.expiresAt.getTime() <= Date.now()) throw invalidLink();
  return doc;
}

/** Uses a token up: single use, so of two requests with one link only the first gets it. */
export async function consumeToken(token: string, kind: AccountTokenKind): Promise<AccountToken> {
  const found = await findToken(token, kind);
  const taken = await atomically(`account-token:${found._id}`, () =>
    AccountTokenModel.findOneAndDelete({ _id: found._id, tokenHash: found.tokenHash }).lean<AccountToken>(),
  );
  if (!taken || taken.expiresAt.getTime() <= Date.now()) throw invalidLink();
  return taken;
}

/** Deletes expired link tokens (FerretDB has no TTL indexes, so this runs on a timer). */
export async function deleteExpiredAccountTokens(): Promise<number> {
  const res = await AccountTokenModel.deleteMany({ expiresAt: op({ $lt: new Date() }) });
  return res.deletedCount;
}

/**
 * Cancels a user's pending links (all kinds, or all but one): a password reset, a password change
 * or disabling must not leave, say, an email change requested with the old password waiting.
 */
export async function cancelTokens(userId: string, except?: AccountTokenKind): Promise<void> {
  await AccountTokenModel.deleteMany({ userId, ...(except ? { kind: op({ $ne: except }) } : {}) });
}

/** A link just issued and mailed: its token and the outbox id of its mail. */
export interface IssuedLink {
  userId: string;
  kind: AccountTokenKind;
  token: string;
  mailId: string;
  /** The token version the request was made under (see undoUnlessUserActive). */
  tokenVersion?: number;
}

/**
 * Once a link token and its mail are written: if the user was disabled, deleted or signed out
 * everywhere meanwhile, the sweep may have passed them, so this link and its mail (and nothing
 * newer) are undone and the request is refused.
 */
export function keepLinkOnlyForActiveUser(link: IssuedLink): Promise<void> {
  const undo = () =>
    Promise.all([
      AccountTokenModel.deleteOne({ _id: `${link.kind}:${link.userId}`, tokenHash: sha256(link.token) }),
      deleteMailById(link.mailId),
    ]);
  return undoUnlessUserActive(link.userId, undo, link.tokenVersion);
}

/** At most this many link mails of one kind per key (user, or recipient) per hour. */
export const LINK_MAILS_PER_HOUR = 3;

/** Counts one link mail for `key`; TOO_MANY_REQUESTS once the hour's allowance is used. */
export async function throttleLinkMail(key: string): Promise<void> {
  const sent = await countInWindow(`linkMail:${key}`, { windowSeconds: 3600, cap: LINK_MAILS_PER_HOUR });
  if (!sent.counted) {
    countRefusal('linkMail');
    const wait = Math.ceil((sent.resetAt.getTime() - Date.now()) / 1000);
    throw new TooManyRequestsError(Math.max(1, wait), 'Too many mails requested, try again later');
  }
}
