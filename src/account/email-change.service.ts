import { AccountEvent } from './account.audit';
import { z } from 'zod';
import { recordAuditEvent } from '../audit/audit.service';
import { isReservedForAdmin } from '../auth/admin-bootstrap';
import { emailSchema } from '../auth/credentials.service';
import { requireReauthentication } from '../auth/reauthentication';
import { clearLockout } from '../users/lockout.service';
import { revokeAllSessions } from '../auth/session.service';
import type { AuthUser, Caller } from '../core/context';
import { op } from '../infra/db';
import { ConflictError, isDuplicateKeyError, UnauthenticatedError } from '../core/errors';
import { parseInput } from '../core/validation';
import { queueMail } from '../mail/mail.service';
import { Role, User, UserModel } from '../users/user.model';
import { greetingName, userView } from '../users/user.profile';
import { AccountTokenKind } from '../users/account-token.model';
import {
  consumeToken,
  invalidLink,
  issueToken,
  keepLinkOnlyForActiveUser,
  throttleLinkMail,
} from '../users/account-token.service';

const inUse = () => new ConflictError('An account with this email already exists', { field: 'newEmail' });

/** `requestEmailChange`: mails a confirmation link to the new address, once the password (or a recent reauthenticate) proves it is me. */
export async function requestEmailChange(
  me: AuthUser,
  change: { newEmail: string; currentPassword?: string | null },
  caller: Caller,
): Promise<boolean> {
  const { config } = caller;
  const { newEmail } = parseInput(z.object({ newEmail: emailSchema }), { newEmail: change.newEmail });
  const user = await UserModel.findById(me.id).lean<User>();
  if (!user) throw new UnauthenticatedError();
  await requireReauthentication(me, user, change.currentPassword, caller, 'requestEmailChange');
  if (isReservedForAdmin(config, newEmail, me.role) || (await UserModel.exists({ email: newEmail }))) throw inUse();
  // Per account and per recipient: the link mail must not become a way to flood an inbox.
  await throttleLinkMail(`changeEmail:${me.id}`);
  await throttleLinkMail(`changeEmailTo:${newEmail}`);
  const ttl = config.account.emailChangeTtl;
  const token = await issueToken(me.id, AccountTokenKind.CHANGE_EMAIL, newEmail, ttl);
  const mailId = await queueMail(
    config,
    {
      to: newEmail,
      userId: me.id,
      template: 'confirm-email-change',
      // No display name: the new address is not proven yet (this link is the proof).
      data: { token, newEmail, expiresInMinutes: ttl / 60 },
    },
    caller.logger,
  );
  await keepLinkOnlyForActiveUser({
    userId: me.id,
    kind: AccountTokenKind.CHANGE_EMAIL,
    token,
    mailId,
    tokenVersion: me.tokenVersion,
  });
  return true;
}

/**
 * `confirmEmailChange`: switches the account to the address the link was sent to (verified by
 * it), ends every other session, and tells the old address.
 */
export async function confirmEmailChange(token: string, me: AuthUser | null, caller: Caller): Promise<User> {
  const { config, client, logger } = caller;
  const used = await consumeToken(token, AccountTokenKind.CHANGE_EMAIL);
  // Refused at the request too; a link sent before the address became ADMIN_EMAIL ends here.
  if (isReservedForAdmin(config, used.email) && !(await UserModel.exists({ _id: used.userId, role: Role.ADMIN })))
    throw inUse();
  let before: User | null;
  try {
    before = await UserModel.findOneAndUpdate(
      { _id: used.userId, disabled: op({ $ne: true }) },
      { $set: { email: used.email, emailVerified: true } },
      { returnDocument: 'before' },
    ).lean<User>();
  } catch (err) {
    // The unique index decides: someone registered the address since the link was sent.
    if (isDuplicateKeyError(err)) throw inUse();
    throw err;
  }
  if (!before) throw invalidLink();
  const keep = me?.id === used.userId ? me.sessionId : undefined;
  await Promise.all([revokeAllSessions(used.userId, keep), clearLockout(before.email)]);
  recordAuditEvent(
    { type: AccountEvent.EMAIL_CHANGED, userId: used.userId, actorId: used.userId, email: before.email, ...client },
    logger,
  );
  await queueMail(
    config,
    {
      to: before.email,
      userId: used.userId,
      template: 'email-changed',
      // An old address that was never proven may not be the account owner's: then the notice
      // carries nothing the requester chose (neither the name nor the new address).
      data: before.emailVerified ? { newEmail: used.email, displayName: greetingName(before) } : {},
    },
    logger,
  );
  return userView({ ...before, email: used.email, emailVerified: true });
}
