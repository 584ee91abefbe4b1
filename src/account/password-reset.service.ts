import { AccountEvent } from './account.audit';
import { z } from 'zod';
import { recordAuditEvent } from '../audit/audit.service';
import type { AuthResult } from '../auth/sign-in';
import { emailSchema, mfaRequired, requireSecondFactor } from '../auth/credentials.service';
import { clearLockout } from '../users/lockout.service';
import { hashPassword, validateNewPassword } from '../auth/password';
import { startSession } from '../auth/session.service';
import { revokeCredentials } from '../core/hooks';
import type { Config } from '../core/config';
import type { Caller } from '../core/context';
import type { Logger } from '../core/logger';
import { op } from '../infra/db';
import { countInWindow, limitAttempt } from '../infra/rate-limit';
import { parseInput } from '../core/validation';
import { queueMail } from '../mail/mail.service';
import { User, UserModel } from '../users/user.model';
import { greetingName } from '../users/user.profile';
import { AccountTokenKind } from '../users/account-token.model';
import {
  consumeToken,
  findToken,
  invalidLink,
  issueToken,
  keepLinkOnlyForActiveUser,
} from '../users/account-token.service';

/** At most this many reset mails per email per PASSWORD_RESET_TTL. */
const MAILS_PER_WINDOW = 3;
const pending = new Set<Promise<void>>();

/**
 * `requestPasswordReset`: always true for a well-formed email. The lookup, the per-email
 * throttle and the mail happen after the answer, so status, body and timing are the same for
 * existing, unknown and disabled accounts; only an existing enabled account gets a mail.
 */
export async function requestPasswordReset(
  rawEmail: string,
  caller: Caller,
  afterResponse: (run: () => void) => void = (run) => run(),
): Promise<boolean> {
  const { config, logger } = caller;
  const { email } = parseInput(z.object({ email: emailSchema }), { email: rawEmail });
  await limitAttempt(config, 'requestPasswordReset', caller.client.ip);
  let done!: () => void;
  const finished = new Promise<void>((resolve) => (done = resolve));
  pending.add(finished);
  // The lookup starts only once the response is out, so it cannot slow the answer it would give away.
  afterResponse(() => {
    void mailResetLink(config, email, logger)
      .catch((err) => logger.error({ err }, 'password reset request failed'))
      .finally(() => {
        pending.delete(finished);
        done();
      });
  });
  return true;
}

async function mailResetLink(config: Config, email: string, logger: Logger): Promise<void> {
  const user = await UserModel.findOne({ email }).lean<User>();
  if (!user || user.disabled) return;
  const ttl = config.account.passwordResetTtl;
  const sent = await countInWindow(`reset:email:${email}`, { windowSeconds: ttl, cap: MAILS_PER_WINDOW });
  if (!sent.counted) {
    logger.info({ userId: String(user._id) }, 'password reset mail throttled');
    return;
  }
  const token = await issueToken(String(user._id), AccountTokenKind.RESET_PASSWORD, email, ttl);
  const mailId = await queueMail(
    config,
    {
      to: email,
      userId: String(user._id),
      template: 'reset-password',
      data: { token, displayName: greetingName(user), expiresInMinutes: ttl / 60 },
    },
    logger,
  );
  await keepLinkOnlyForActiveUser({
    userId: String(user._id),
    kind: AccountTokenKind.RESET_PASSWORD,
    token,
    mailId,
    tokenVersion: user.tokenVersion,
  });
}

/** For tests and shutdown: waits for reset requests still being processed after their answer. */
export async function flushPasswordResets(): Promise<void> {
  await Promise.all([...pending]);
}

/**
 * `resetPassword`: sets a new password from a reset link and signs in. Everything else the
 * account had (sessions, access tokens, a lockout) ends; the link also proves the inbox.
 * With TOTP on, the link replaces only the password: a code (TOTP or recovery) is required too,
 * or whoever reads the mailbox would sign in past the second factor.
 */
export async function resetPassword(
  { token, newPassword, totpCode }: { token: string; newPassword: string; totpCode?: string | null },
  caller: Caller,
): Promise<AuthResult> {
  const { config, client, logger } = caller;
  const found = await findToken(token, AccountTokenKind.RESET_PASSWORD);
  const user = await UserModel.findById(found.userId).lean<User>();
  if (!user || user.disabled || user.email !== found.email) throw invalidLink();
  // Checked before the link is used up: a refused password leaves it usable.
  validateNewPassword(newPassword, 'newPassword', [user.email, user.email.split('@')[0]!]);
  // So is a missing code: the user can retry with one.
  if (user.totpEnabled && !totpCode) throw mfaRequired();
  // Hashed before the link is used up, so a busy hashing queue (503) does not burn it either.
  const passwordHash = await hashPassword(config, newPassword);
  // A wrong code counts towards the lockout and leaves the link usable; a right one is used up.
  if (user.totpEnabled) await requireSecondFactor(user, totpCode, caller, 'resetPassword');
  await consumeToken(token, AccountTokenKind.RESET_PASSWORD);
  const updated = await UserModel.findOneAndUpdate(
    // Only while TOTP is as it was read: turned on meanwhile, no code was checked for it.
    { _id: user._id, email: found.email, totpEnabled: user.totpEnabled ? true : op({ $ne: true }) },
    { $set: { passwordHash, hasPassword: true, emailVerified: true }, $inc: { tokenVersion: 1 } },
    { returnDocument: 'after' },
  ).lean<User>();
  if (!updated) throw invalidLink();
  // Every other pending link (an email change requested with the old password) ends too, and so
  // does every API key: a reset is how a compromised account is taken back.
  await Promise.all([
    clearLockout(updated.email),
    revokeCredentials(found.userId, { reason: 'PASSWORD_RESET', actorId: found.userId, ...client, logger }),
  ]);
  recordAuditEvent(
    { type: AccountEvent.PASSWORD_RESET, userId: found.userId, actorId: found.userId, ...client },
    logger,
  );
  await queueMail(
    config,
    // Greeted by name only if the address was proven before this link (which proves it now).
    {
      to: updated.email,
      userId: found.userId,
      template: 'password-changed',
      data: { displayName: greetingName(user) },
    },
    logger,
  );
  return startSession(updated, caller);
}
