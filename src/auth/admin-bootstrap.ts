import { z } from 'zod';
import type { Config } from '../core/config';
import { isDuplicateKeyError } from '../core/errors';
import type { Logger } from '../core/logger';
import { parseInput } from '../core/validation';
import { Role, User, UserModel } from '../users/user.model';
import { emailSchema } from './credentials.service';
import { hashPassword, validateNewPassword } from './password';

/** Start-up stops: ADMIN_EMAIL names an account that this bootstrap must not turn into an admin. */
export class AdminEmailConflictError extends Error {
  override name = 'AdminEmailConflictError';

  constructor(email: string, user: Pick<User, '_id' | 'role' | 'createdAt'>) {
    const id = String(user._id);
    super(
      `ADMIN_EMAIL ${email} belongs to an existing account that is not an admin (user ${id}, role ${user.role}, ` +
        `created ${user.createdAt.toISOString()}). It is not promoted: whoever registered it could keep what they ` +
        `attached to it (API keys, a second factor, pending links). To resolve: set ADMIN_EMAIL to another address ` +
        `you control and start again, sign in as that admin and run deleteUser(userId: "${id}") (or promote the ` +
        `account with setUserRole if it really is yours); ADMIN_EMAIL can then name this address again.`,
    );
  }
}

/**
 * Makes sure ADMIN_EMAIL exists with role ADMIN. Created once; an existing admin keeps its
 * password (it may have been changed since). An existing account that is not an admin may have
 * been registered by anyone, with keys, a second factor or an email change of theirs attached:
 * it is never promoted, and start-up stops with AdminEmailConflictError (also for an ADMIN_EMAIL
 * account an admin demoted since: an admin decides that, not a restart).
 */
export async function ensureAdmin(config: Config, logger: Logger): Promise<void> {
  if (!config.admin) return;
  const email = adminEmail(config.admin.email);
  const existing = await findByEmail(email);
  if (existing) return refuseUnlessAdmin(email, existing);
  validateNewPassword(config.admin.password, 'ADMIN_PASSWORD', [email]);
  const passwordHash = await hashPassword(config, config.admin.password);
  try {
    // The operator chose the address: it needs no verification link.
    await UserModel.create({ email, passwordHash, role: Role.ADMIN, emailVerified: true });
    logger.info({ email }, 'admin user created');
  } catch (err) {
    // Another instance, or a registration, created it at the same moment.
    if (!isDuplicateKeyError(err)) throw err;
    const raced = await findByEmail(email);
    if (raced) refuseUnlessAdmin(email, raced);
  }
}

const adminEmail = (raw: string) => parseInput(z.object({ email: emailSchema }), { email: raw }).email;

/**
 * ADMIN_EMAIL is kept for the bootstrap admin: nobody but an admin may register it or change their
 * address to it (CONFLICT, as for an address in use), so no one can park an account there and stop
 * the next start. It only matters while the admin account does not hold the address itself.
 */
export function isReservedForAdmin(config: Config, email: string, role?: Role | 'USER' | 'ADMIN'): boolean {
  return !!config.admin && role !== Role.ADMIN && email === adminEmail(config.admin.email);
}

const findByEmail = (email: string) => UserModel.findOne({ email }, { role: 1, createdAt: 1 }).lean<User>();

function refuseUnlessAdmin(email: string, user: User): void {
  if (user.role !== Role.ADMIN) throw new AdminEmailConflictError(email, user);
}
