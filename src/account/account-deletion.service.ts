import { AccountEvent } from './account.audit';
import { recordAuditEvent } from '../audit/audit.service';
import { requireReauthentication } from '../auth/reauthentication';
import { clearLockout } from '../users/lockout.service';
import type { AuthUser, Caller } from '../core/context';
import { NotFoundError, UnauthenticatedError } from '../core/errors';
import { assertUserDeletable, deleteUserData } from '../core/hooks';
import { parseObjectId } from '../core/validation';
import { User, UserModel } from '../users/user.model';
import { setUserDisabled, type Actor } from '../users/user.service';

/**
 * Deletes a user, then everything other features keep for it (each module's `deleteUserData`, in
 * module order: sessions, link tokens, TOTP credentials, API keys, items and the item quota (item
 * creations racing the deletion are waited for or refused; subscribers get a DELETED event for
 * each item), queued mail). The user goes first, so its tokens stop at once, its email is free and
 * a write racing the cascade finds no active user and undoes itself. Each step is idempotent, so a
 * cascade cut off halfway is finished by running it again. Audit events are kept: they are the
 * record of what happened to the account.
 */
async function cascade(userId: string, actor: Actor): Promise<number> {
  const removed = (await UserModel.deleteOne({ _id: userId })).deletedCount;
  return removed + (await deleteUserData(userId, actor.id, actor.logger));
}

async function remove(user: User, actor: Actor, by: 'self' | 'admin'): Promise<true> {
  const userId = String(user._id);
  // Before anything changes: a feature may refuse (an organization's last OWNER with other members).
  await assertUserDeletable(userId);
  // Disabling first goes through the last-admin check of setUserDisabled (CONFLICT, nothing
  // changed) and signs the user out everywhere before anything is deleted.
  if (!user.disabled) await setUserDisabled(actor, userId, true);
  await cascade(userId, actor);
  await clearLockout(user.email);
  recordAuditEvent(
    {
      type: AccountEvent.USER_DELETED,
      userId,
      actorId: actor.id,
      ip: actor.ip,
      userAgent: actor.userAgent,
      details: { by },
    },
    actor.logger,
  );
  return true;
}

/** The signed-in user deletes their own account, proving it with the current password or a recent reauthenticate. */
export async function deleteAccount(
  me: AuthUser,
  actor: Actor,
  currentPassword: string | null | undefined,
  caller: Caller,
): Promise<boolean> {
  const user = await UserModel.findById(actor.id).lean<User>();
  if (!user) throw new UnauthenticatedError();
  await requireReauthentication(me, user, currentPassword, caller, 'deleteAccount');
  return remove(user, actor, 'self');
}

/** ADMIN: deletes a user. Run again on a user whose deletion was cut off, it finishes the job. */
export async function deleteUser(actor: Actor, userId: string): Promise<boolean> {
  const id = parseObjectId(userId, 'userId');
  const user = await UserModel.findById(id).lean<User>();
  if (user) return remove(user, actor, 'admin');
  if ((await cascade(id, actor)) === 0) throw new NotFoundError('No such user');
  recordAuditEvent(
    {
      type: AccountEvent.USER_DELETED,
      userId: id,
      actorId: actor.id,
      ip: actor.ip,
      userAgent: actor.userAgent,
      details: { by: 'admin', resumed: true },
    },
    actor.logger,
  );
  return true;
}
