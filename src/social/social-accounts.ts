import { isReservedForAdmin } from '../auth/admin-bootstrap';
import type { Caller } from '../core/context';
import { ConflictError, ForbiddenError, isDuplicateKeyError } from '../core/errors';
import { limitAttempt } from '../infra/rate-limit';
import { Role, User, UserModel } from '../users/user.model';
import { parseDisplayName } from '../users/user.profile';
import { LinkedIdentity, LinkedIdentityModel } from './identity.model';
import type { VerifiedIdentity } from './oidc-state.model';

/** The account a provider identity signs in to, and the link to make once the sign-in holds. */
export interface Resolved {
  user: User;
  /** The identity's link, when it already exists. */
  linked: LinkedIdentity | null;
}

/**
 * Which account an identity signs in to: its linked account; else the account with the same
 * email, only when the provider says the email is verified and the account proved it too
 * (anything else would hand the account to whoever controls the provider's claim: ACCOUNT_EXISTS);
 * else a new account without a password, under register's limits.
 */
export async function resolveAccount(provider: string, identity: VerifiedIdentity, caller: Caller): Promise<Resolved> {
  const linked = await LinkedIdentityModel.findOne({ provider, subject: identity.subject }).lean<LinkedIdentity>();
  if (linked) {
    const user = await UserModel.findById(linked.userId).lean<User>();
    if (user) return { user, linked };
    // The account was deleted and its cascade cut off: the identity is free again.
    await LinkedIdentityModel.deleteOne({ _id: linked._id });
  }
  if (!identity.email)
    throw new ForbiddenError('The provider gave no email address: an account needs one', {
      reason: 'PROVIDER_EMAIL_REQUIRED',
    });
  const existing = await UserModel.findOne({ email: identity.email }).lean<User>();
  if (existing) {
    // Never an administrator: a provider's word is not enough for a way into that account.
    if (identity.emailVerified && existing.emailVerified && existing.role !== Role.ADMIN)
      return { user: existing, linked: null };
    throw accountExists();
  }
  return { user: await createAccount(identity, caller), linked: null };
}

function accountExists(): ForbiddenError {
  return new ForbiddenError(
    'An account with this email exists: sign in another way, then link this provider from there',
    { reason: 'ACCOUNT_EXISTS' },
  );
}

async function createAccount(identity: VerifiedIdentity, caller: Caller): Promise<User> {
  const email = identity.email!;
  await limitAttempt(caller.config, 'register', caller.client.ip, email);
  if (isReservedForAdmin(caller.config, email)) throw accountExists();
  let displayName: string | null = null;
  try {
    displayName = parseDisplayName(identity.name?.slice(0, 100)) ?? null;
  } catch {
    // A provider's name that our rules refuse (a URL, say) is left out, not an error.
  }
  try {
    const user = await UserModel.create({
      email,
      passwordHash: null,
      hasPassword: false,
      emailVerified: identity.emailVerified,
      displayName,
    });
    return user.toObject();
  } catch (err) {
    // Registered by email meanwhile: as for an existing account.
    if (isDuplicateKeyError(err)) throw accountExists();
    throw err;
  }
}

/** Links an identity to an account; CONFLICT when another account has it. */
export async function linkIdentity(
  userId: string,
  provider: string,
  identity: VerifiedIdentity,
): Promise<LinkedIdentity> {
  const now = new Date();
  try {
    const created = await LinkedIdentityModel.create({
      userId,
      provider,
      subject: identity.subject,
      email: identity.email ?? null,
      linkedAt: now,
      lastUsedAt: now,
    });
    return created.toObject();
  } catch (err) {
    if (!isDuplicateKeyError(err)) throw err;
    const other = await LinkedIdentityModel.findOne({ provider, subject: identity.subject }).lean<LinkedIdentity>();
    if (other?.userId === userId) return other;
    throw new ConflictError('This provider account is linked to another account', { reason: 'IDENTITY_LINKED' });
  }
}
