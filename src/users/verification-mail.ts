import type { Config } from '../core/config';
import type { Logger } from '../core/logger';
import { queueMail } from '../mail/mail.service';
import { AccountTokenKind } from './account-token.model';
import { issueToken, keepLinkOnlyForActiveUser } from './account-token.service';
import type { User } from './user.model';

/** Mails a new verification link to the user's address (replacing any earlier link), greeting no one by name. */
export async function sendVerificationMail(config: Config, user: User, logger: Logger): Promise<void> {
  const kind = AccountTokenKind.VERIFY_EMAIL;
  const token = await issueToken(String(user._id), kind, user.email, config.account.emailVerificationTtl);
  const mailId = await queueMail(
    config,
    {
      to: user.email,
      userId: String(user._id),
      template: 'verify-email',
      // No display name: the address is not proven, and whoever registered chose the name.
      data: { token, expiresInMinutes: config.account.emailVerificationTtl / 60 },
    },
    logger,
  );
  await keepLinkOnlyForActiveUser({ userId: String(user._id), kind, token, mailId, tokenVersion: user.tokenVersion });
}
