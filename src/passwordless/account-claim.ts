import type { Caller } from '../core/context';
import { revokeCredentials } from '../core/hooks';
import { op } from '../infra/db';
import { User, UserModel } from '../users/user.model';

/**
 * The first proof of an account's address, by a code mailed to it. Whoever registered the account
 * may not own the mailbox: someone can sign up with another person's address before they do, set
 * the password, add a passkey or an API key, and wait for the owner to sign in by email. So what
 * was set up before the address was proven ends, as at a password reset: every session, API key,
 * passkey and pending link, and the password: the account has none until the owner sets one
 * (setPassword after reauthenticate, or a reset link). Answers the account as it now is.
 */
export async function claimUnprovenAccount(user: User, caller: Caller): Promise<User> {
  const userId = String(user._id);
  const claimed = await UserModel.findOneAndUpdate(
    { _id: user._id, email: user.email, emailVerified: op({ $ne: true }) },
    { $set: { emailVerified: true, passwordHash: null, hasPassword: false }, $inc: { tokenVersion: 1 } },
    { returnDocument: 'after' },
  ).lean<User>();
  // Proven meanwhile (a verification link, a parallel sign-in): nothing to claim.
  if (!claimed) return (await UserModel.findById(user._id).lean<User>()) ?? user;
  const { client, logger } = caller;
  await revokeCredentials(userId, { reason: 'EMAIL_PROVEN', actorId: userId, ...client, logger });
  logger.info({ userId }, 'unproven account claimed by its first emailed code');
  return claimed;
}
