import { AccountEvent } from './account.audit';
import { recordAuditEvent } from '../audit/audit.service';
import type { Caller } from '../core/context';
import { op } from '../infra/db';
import { User, UserModel } from '../users/user.model';
import { userView } from '../users/user.profile';
import { AccountTokenKind } from '../users/account-token.model';
import { consumeToken, invalidLink, throttleLinkMail } from '../users/account-token.service';
import { sendVerificationMail } from '../users/verification-mail';

/** `requestEmailVerification`: false when the address is verified already. */
export async function requestEmailVerification(userId: string, caller: Caller): Promise<boolean> {
  const user = await UserModel.findById(userId).lean<User>();
  if (!user || user.emailVerified) return false;
  await throttleLinkMail(`verify:${userId}`);
  await sendVerificationMail(caller.config, user, caller.logger);
  return true;
}

/** `verifyEmail`: the link proves the inbox of the address it was sent to. */
export async function verifyEmail(token: string, { client, logger }: Caller): Promise<User> {
  const used = await consumeToken(token, AccountTokenKind.VERIFY_EMAIL);
  // A link sent to an address the account no longer has proves nothing about the current one.
  const user = await UserModel.findOneAndUpdate(
    { _id: used.userId, email: used.email, disabled: op({ $ne: true }) },
    { $set: { emailVerified: true } },
    { returnDocument: 'after' },
  ).lean<User>();
  if (!user) throw invalidLink();
  recordAuditEvent({ type: AccountEvent.EMAIL_VERIFIED, userId: used.userId, actorId: used.userId, ...client }, logger);
  return userView(user);
}
