import { UserEvent } from './user.audit';
import { recordAuditEvent } from '../audit/audit.service';
import { clearLockout } from './lockout.service';
import { authChanged } from '../infra/auth-events';
import { revokeCredentials } from '../core/hooks';
import { atomically, op } from '../infra/db';
import { ConflictError, NotFoundError } from '../core/errors';
import { isObjectId, parseObjectId } from '../core/validation';
import type { Logger } from '../core/logger';
import { decodeCursor, encodeCursor, pageSize, toConnection, type Connection } from '../core/pagination';
import { USER_VIEW_FIELDS, Role, User, UserModel } from './user.model';

/** The admin making a change, for the audit log. */
export interface Actor {
  id: string;
  /** The token version the actor's credential was checked under (see AuthUser.tokenVersion). */
  tokenVersion?: number;
  ip?: string;
  userAgent?: string | null;
  logger: Logger;
}

function audited(actor: Actor, type: string, userId: string, details?: Record<string, string>): void {
  recordAuditEvent(
    { type, userId, actorId: actor.id, ip: actor.ip ?? null, userAgent: actor.userAgent ?? null, details },
    actor.logger,
  );
}

export async function findById(id: string): Promise<User | null> {
  if (!isObjectId(id)) return null;
  return UserModel.findById(id, USER_VIEW_FIELDS).lean<User>().exec();
}

/** Users in creation order (by _id), keyset-paged: served by the default _id index. */
export async function listUsers(
  first: number | null | undefined,
  after: string | null | undefined,
): Promise<Connection<User>> {
  const limit = pageSize(first);
  const afterId = after
    ? (decodeCursor(after, (v) => v.length === 1 && typeof v[0] === 'string' && isObjectId(v[0]))[0] as string)
    : null;
  const [rows, totalCount] = await Promise.all([
    UserModel.find(afterId ? { _id: op({ $gt: afterId }) } : {}, USER_VIEW_FIELDS)
      .sort({ _id: 1 })
      .limit(limit + 1)
      .lean<User[]>(),
    UserModel.countDocuments({}),
  ]);
  return toConnection(rows, limit, totalCount, afterId !== null, (u) => encodeCursor([String(u._id)]));
}

const ACTIVE_ADMIN = { role: Role.ADMIN, disabled: false };

/**
 * Applies a change that may remove an admin, then makes sure one active admin remains; if not,
 * the change is undone. Checking after writing (not before) stays correct when two admins
 * demote each other at the same moment: both see zero and both roll back.
 */
function keepingAnAdmin(
  userId: string,
  change: Partial<Pick<User, 'role' | 'disabled'>>,
  undo: Partial<Pick<User, 'role' | 'disabled'>>,
): Promise<User> {
  // One queue for every admin change: on FerretDB the write and the check are not atomic.
  return atomically('admins', () => changeKeepingAnAdmin(userId, change, undo));
}

async function changeKeepingAnAdmin(
  userId: string,
  change: Partial<Pick<User, 'role' | 'disabled'>>,
  undo: Partial<Pick<User, 'role' | 'disabled'>>,
): Promise<User> {
  const before = await UserModel.findOneAndUpdate(
    { _id: userId },
    { $set: change },
    { returnDocument: 'before' },
  ).lean<User>();
  if (!before) throw new NotFoundError('No such user');
  const wasActiveAdmin = before.role === Role.ADMIN && !before.disabled;
  if (wasActiveAdmin && (await UserModel.countDocuments(ACTIVE_ADMIN)) === 0) {
    await UserModel.updateOne({ _id: userId }, { $set: undo });
    throw new ConflictError('The last remaining admin cannot be demoted or disabled');
  }
  return { ...before, ...change } as User;
}

export async function setUserRole(actor: Actor, userId: string, role: Role): Promise<User> {
  parseObjectId(userId, 'userId');
  const current = await UserModel.findById(userId, { role: 1 }).lean<User>();
  if (!current) throw new NotFoundError('No such user');
  if (current.role === role) return (await findById(userId))!;
  const user = await keepingAnAdmin(userId, { role }, { role: current.role });
  authChanged(userId);
  audited(actor, UserEvent.ROLE_CHANGED, userId, { from: current.role, to: role });
  return user;
}

export async function setUserDisabled(actor: Actor, userId: string, disabled: boolean): Promise<User> {
  parseObjectId(userId, 'userId');
  const current = await UserModel.findById(userId, { disabled: 1 }).lean<User>();
  if (!current) throw new NotFoundError('No such user');
  if (current.disabled === disabled) {
    // Disabling again finishes what a disable cut off halfway may have left (the sweep is idempotent).
    if (disabled) await sweepOnDisable(actor, userId);
    return (await findById(userId))!;
  }
  // Before re-enabling, the disable's sweep once more (idempotent): one cut off halfway must not
  // leave keys or sessions for re-enabling to revive.
  if (!disabled) await sweepOnDisable(actor, userId);
  const user = await keepingAnAdmin(userId, { disabled }, { disabled: current.disabled });
  if (disabled) {
    // Only once the change stands (a refused one must leave the tokens alone): every session,
    // token, link and API key the user holds is revoked, so re-enabling later revives none.
    await sweepOnDisable(actor, userId);
  }
  audited(actor, disabled ? UserEvent.USER_DISABLED : UserEvent.USER_ENABLED, userId);
  return user;
}

async function sweepOnDisable(actor: Actor, userId: string): Promise<void> {
  await UserModel.updateOne({ _id: userId }, { $inc: { tokenVersion: 1 } });
  await revokeEverything(actor, userId);
}

/** Sessions, link tokens and API keys: every feature that keeps credentials revokes its own. */
function revokeEverything(actor: Actor, userId: string): Promise<unknown> {
  const { id: actorId, ip, userAgent, logger } = actor;
  return revokeCredentials(userId, { reason: 'USER_DISABLED', actorId, ip, userAgent, logger });
}

export async function unlockUser(actor: Actor, userId: string): Promise<User> {
  parseObjectId(userId, 'userId');
  const user = await findById(userId);
  if (!user) throw new NotFoundError('No such user');
  const wasLocked = await clearLockout(user.email);
  audited(actor, UserEvent.ACCOUNT_UNLOCKED, userId, { hadFailures: String(wasLocked) });
  return user;
}
