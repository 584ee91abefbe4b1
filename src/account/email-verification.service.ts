import { AuditEventType, recordAuditEvent } from '../audit/audit.service';
import type { Config } from '../core/config';
import type { ClientInfo } from '../core/http';
import type { Logger } from '../core/logger';
import { queueMail } from '../mail/mail.service';
import { USER_VIEW_FIELDS, User, UserModel } from '../users/user.model';
import { AccountTokenKind } from './account-token.model';
import { consumeToken, invalidLink, issueToken } from './account-token.service';

/** Mails a new verification link to the user's address (replacing any earlier link). */
export async function sendVerificationMail(config: Config, user: User, logger: Logger): Promise<void> {
  const kind = AccountTokenKind.VERIFY_EMAIL;
  const token = await issueToken(String(user._id), kind, user.email, config.account.emailVerificationTtl);
  await queueMail(
    config,
    {
      to: user.email,
      template: 'verify-email',
      data: {
        token,
        displayName: user.displayName ?? null,
        expiresInMinutes: config.account.emailVerificationTtl / 60,
      },
    },
    logger,
  );
}

/** `requestEmailVerification`: false when the address is verified already. */
export async function requestEmailVerification(config: Config, userId: string, logger: Logger): Promise<boolean> {
  const user = await UserModel.findById(userId).lean<User>();
  if (!user || user.emailVerified) return false;
  await sendVerificationMail(config, user, logger);
  return true;
}

/** `verifyEmail`: the link proves the inbox of the address it was sent to. */
export async function verifyEmail(token: string, client: ClientInfo, logger: Logger): Promise<User> {
  const used = await consumeToken(token, AccountTokenKind.VERIFY_EMAIL);
  // A link sent to an address the account no longer has proves nothing about the current one.
  const user = await UserModel.findOneAndUpdate(
    { _id: used.userId, email: used.email },
    { $set: { emailVerified: true } },
    { returnDocument: 'after' },
  ).lean<User>();
  if (!user) throw invalidLink();
  recordAuditEvent(
    { type: AuditEventType.EMAIL_VERIFIED, userId: used.userId, actorId: used.userId, ...client },
    logger,
  );
  return view(user);
}

/** The private view's fields only (findOneAndUpdate cannot project on FerretDB v1). */
export function view(user: User): User {
  const fields = Object.keys(USER_VIEW_FIELDS).map((key) => [key, user[key as keyof User]]);
  return { _id: user._id, ...Object.fromEntries(fields) } as User;
}
