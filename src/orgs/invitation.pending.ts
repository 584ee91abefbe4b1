import type { Types } from 'mongoose';
import { ConflictError, NotFoundError } from '../core/errors';
import { atomically, op } from '../infra/db';
import { Invitation, InvitationModel, InvitationState } from './invitation.model';
import { orgLock } from './membership.service';
import { OrganizationModel, isLiveOrganization } from './org.model';

/**
 * Pending invitations per organization, kept by places: `Organization.pendingInvitations` is
 * raised (conditionally, below the cap) before an invitation is written and lowered only by the
 * call whose compare-and-set ended a pending one. So it never counts fewer than there are, and
 * the cap holds under parallel invites; a crash between the two steps can only leave it too high
 * (one place lost), never too low. (A recount could not tell a lost place from an invitation
 * being written, so none is attempted.)
 */
export const MAX_PENDING_INVITATIONS = 100;

/** Every change of one invitation's state goes through this key (accept, revoke and replace race). */
const invitationLock = (id: Types.ObjectId | string) => `invitation:${String(id)}`;

export const noSuchOrganization = () => new NotFoundError('No such organization');

/**
 * Moves an invitation from one state to another if it is still in the first (and, with `live`,
 * not expired): true for the one caller whose write made the change. `settledBy` records who
 * accepted or revoked it; null clears that (a replacement, or an acceptance undone).
 */
export async function transition(
  id: Types.ObjectId | string,
  from: InvitationState,
  to: InvitationState,
  settledBy: string | null,
  live = false,
): Promise<boolean> {
  const settled = settledBy ? { $set: { state: to, settledBy, settledAt: new Date() } } : { $set: { state: to } };
  const update = settledBy ? settled : { ...settled, $unset: { settledBy: 1, settledAt: 1 } };
  const filter = { _id: id, state: from, ...(live ? { expiresAt: op({ $gt: new Date() }) } : {}) };
  const res = await atomically(invitationLock(id), () => InvitationModel.updateOne(filter, update));
  return res.modifiedCount === 1;
}

/** Gives `n` places back (the invitations holding them are no longer pending). */
export async function releasePlaces(orgId: string, n = 1): Promise<void> {
  if (n <= 0) return;
  await atomically(orgLock(orgId), () =>
    OrganizationModel.updateOne(
      { _id: orgId, pendingInvitations: op({ $gte: n }) },
      { $inc: { pendingInvitations: -n } },
    ),
  );
}

/** Revokes a pending, live invitation and gives its place back: true when this call ended it. */
export async function revokePending(invitation: Pick<Invitation, '_id' | 'orgId'>, by: string): Promise<boolean> {
  if (!(await transition(invitation._id, InvitationState.PENDING, InvitationState.REVOKED, by, true))) return false;
  await releasePlaces(invitation.orgId);
  return true;
}

/**
 * Marks the pending invitations to `email` in the organization replaced: all of them, or with
 * `keepNewest`, all but the newest. Of invitations written in parallel the one with the highest
 * id stands, whichever request looks: each looks after writing its own, so every older one is
 * seen by its own writer or by a newer one. Answers the ids this call replaced (their places are
 * still held, for the caller to keep or give back) and the one it kept.
 */
export async function replacePending(
  orgId: string,
  email: string,
  keepNewest = false,
): Promise<{ replaced: string[]; kept?: string }> {
  const pending = await InvitationModel.find({ orgId, email, state: InvitationState.PENDING }, { _id: 1 }).lean<
    Pick<Invitation, '_id'>[]
  >();
  const ids = pending.map((p) => String(p._id)).sort();
  const kept = keepNewest ? ids.pop() : undefined;
  const replaced: string[] = [];
  for (const id of ids)
    if (await transition(id, InvitationState.PENDING, InvitationState.REPLACED, null)) replaced.push(id);
  return { replaced, kept };
}

/**
 * Takes a place for a new invitation: CONFLICT `INVITATION_LIMIT` at the cap (after reclaiming
 * the places of expired invitations), NOT_FOUND when the organization is gone.
 */
export async function takePlace(orgId: string): Promise<void> {
  const increment = async () =>
    (
      await atomically(orgLock(orgId), () =>
        OrganizationModel.updateOne(
          { _id: orgId, pendingInvitations: op({ $lt: MAX_PENDING_INVITATIONS }) },
          { $inc: { pendingInvitations: 1 } },
        ),
      )
    ).modifiedCount === 1;
  if (await increment()) return;
  if (!(await isLiveOrganization(orgId))) throw noSuchOrganization();
  // Expired invitations hold their places until housekeeping or this reclaim deletes them.
  if ((await reclaimExpired(orgId)) > 0 && (await increment())) return;
  throw new ConflictError(`An organization has at most ${MAX_PENDING_INVITATIONS} pending invitations`, {
    reason: 'INVITATION_LIMIT',
  });
}

/** Deletes one expired pending invitation and gives its place back: true when this call deleted it. */
async function deleteExpired({ _id, orgId }: Pick<Invitation, '_id' | 'orgId'>, now: Date): Promise<boolean> {
  const res = await atomically(invitationLock(_id), () =>
    InvitationModel.deleteOne({ _id, state: InvitationState.PENDING, expiresAt: op({ $lte: now }) }),
  );
  if (res.deletedCount === 0) return false;
  await releasePlaces(orgId);
  return true;
}

async function reclaimExpired(orgId: string): Promise<number> {
  const now = new Date();
  const expired = await InvitationModel.find(
    { orgId, state: InvitationState.PENDING, expiresAt: op({ $lte: now }) },
    { _id: 1, orgId: 1 },
  ).lean<Pick<Invitation, '_id' | 'orgId'>[]>();
  let reclaimed = 0;
  for (const invitation of expired) if (await deleteExpired(invitation, now)) reclaimed += 1;
  return reclaimed;
}

/**
 * Housekeeping: expired invitations go (no TTL index on FerretDB), pending ones one by one so
 * their places come back, settled ones (accepted, revoked, replaced) at once.
 */
export async function deleteExpiredInvitations(): Promise<number> {
  const now = new Date();
  const expired = await InvitationModel.find(
    { state: InvitationState.PENDING, expiresAt: op({ $lte: now }) },
    { _id: 1, orgId: 1 },
  )
    .limit(1000)
    .lean<Pick<Invitation, '_id' | 'orgId'>[]>();
  let deleted = 0;
  for (const invitation of expired) if (await deleteExpired(invitation, now)) deleted += 1;
  const settled = [InvitationState.ACCEPTED, InvitationState.REVOKED, InvitationState.REPLACED];
  const res = await InvitationModel.deleteMany({ state: op({ $in: settled }), expiresAt: op({ $lte: now }) });
  return deleted + res.deletedCount;
}
