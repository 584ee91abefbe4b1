import { z } from 'zod';
import type { Config } from '../core/config';
import { AuditEventType, recordAuditEvent } from '../audit/audit.service';
import { isDuplicateKeyError } from '../core/errors';
import type { Logger } from '../core/logger';
import { parseInput } from '../core/validation';
import { Role, User, UserModel } from '../users/user.model';
import { emailSchema } from './credentials.service';
import { hashPassword, validateNewPassword } from './password';
import { clearLockout } from './lockout.service';
import { revokeAllSessions } from './session.service';

/**
 * Makes sure ADMIN_EMAIL exists with role ADMIN. Created once; an existing admin keeps its
 * password (it may have been changed since). An existing account that is not an admin may
 * have been registered by anyone, so it is never promoted with a password the operator did not
 * set: it is taken over (ADMIN_PASSWORD, enabled, no lockout), and every session and token it
 * had is revoked. This runs at every start, so a demoted ADMIN_EMAIL account is taken over again.
 */
export async function ensureAdmin(config: Config, logger: Logger): Promise<void> {
  if (!config.admin) return;
  const email = parseInput(z.object({ email: emailSchema }), { email: config.admin.email }).email;
  const existing = await UserModel.findOne({ email }, { role: 1 }).lean<User>();
  if (existing?.role === Role.ADMIN) return;
  validateNewPassword(config.admin.password, 'ADMIN_PASSWORD', [email]);
  const passwordHash = await hashPassword(config, config.admin.password);
  if (existing) return takeOver(existing, email, passwordHash, logger);
  try {
    // The operator chose the address: it needs no verification link.
    await UserModel.create({ email, passwordHash, role: Role.ADMIN, emailVerified: true });
    logger.info({ email }, 'admin user created');
  } catch (err) {
    // Another instance, or a registration, created it at the same moment.
    if (!isDuplicateKeyError(err)) throw err;
    const raced = await UserModel.findOne({ email }, { role: 1 }).lean<User>();
    if (raced && raced.role !== Role.ADMIN) await takeOver(raced, email, passwordHash, logger);
  }
}

async function takeOver(user: User, email: string, passwordHash: string, logger: Logger): Promise<void> {
  const userId = String(user._id);
  await UserModel.updateOne(
    { _id: user._id },
    { $set: { role: Role.ADMIN, passwordHash, disabled: false, emailVerified: true }, $inc: { tokenVersion: 1 } },
  );
  await Promise.all([revokeAllSessions(userId), clearLockout(email)]);
  logger.warn(
    { email, userId },
    'ADMIN_EMAIL belonged to a non-admin account: it now has ADMIN_PASSWORD and role ADMIN, its sessions are revoked',
  );
  for (const type of [AuditEventType.PASSWORD_CHANGED, AuditEventType.ROLE_CHANGED])
    recordAuditEvent({ type, userId, details: { reason: 'ADMIN_EMAIL takeover' } }, logger);
}
