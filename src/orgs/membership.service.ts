import type { AuthUser } from '../core/context';
import { ConflictError, isDuplicateKeyError, NotFoundError } from '../core/errors';
import { decodeTimeCursor, encodeTimeCursor, pageSize, toConnection, type Connection } from '../core/pagination';
import { atomically, op } from '../infra/db';
import {
  LIVE_ORG,
  Membership,
  MembershipModel,
  Organization,
  OrganizationModel,
  OrgRole,
  isLiveOrganization,
} from './org.model';

/** Members one organization may have. */
export const MAX_MEMBERS_PER_ORG = 1000;

/** The lock key of an organization's counters (conditional writes are queued per key on FerretDB). */
export const orgLock = (orgId: string) => `org:${orgId}`;

/** The lock key of one membership's conditional writes (its role, its removal). */
export const membershipLock = (orgId: string, userId: string) => `membership:${orgId}:${userId}`;

export const noSuchOrganization = () => new NotFoundError('No such organization');

/**
 * Adds to an organization's counters. Queued per organization even when unconditional: FerretDB
 * applies `$inc` as a read then a write too.
 */
export function count(orgId: string, inc: { memberCount?: number; ownerCount?: number }): Promise<unknown> {
  return atomically(orgLock(orgId), () => OrganizationModel.updateOne({ _id: orgId }, { $inc: inc }));
}

/**
 * Adds a member: takes one of the organization's member places first (a conditional increment,
 * so the cap holds under parallel joins), then inserts the membership. Answers 'already' (and
 * gives the place back) when the user is a member already. NOT_FOUND when the organization is
 * gone, CONFLICT `MEMBER_LIMIT` when it is full.
 */
export async function addMember(orgId: string, userId: string, role: OrgRole): Promise<'added' | 'already'> {
  const owners = role === OrgRole.OWNER ? 1 : 0;
  const taken = await atomically(orgLock(orgId), () =>
    OrganizationModel.updateOne(
      { _id: orgId, memberCount: op({ $lt: MAX_MEMBERS_PER_ORG }), ...LIVE_ORG },
      { $inc: { memberCount: 1, ownerCount: owners } },
    ),
  );
  if (taken.modifiedCount === 0) {
    if (!(await isLiveOrganization(orgId))) throw noSuchOrganization();
    throw new ConflictError(`An organization has at most ${MAX_MEMBERS_PER_ORG} members`, { reason: 'MEMBER_LIMIT' });
  }
  try {
    await MembershipModel.create({ orgId, userId, role, joinedAt: new Date() });
  } catch (err) {
    await count(orgId, { memberCount: -1, ownerCount: -owners });
    if (isDuplicateKeyError(err)) return 'already';
    throw err;
  }
  // Deleted meanwhile: deleteOrganization removed the memberships it saw, not this one.
  if (!(await isLiveOrganization(orgId))) {
    await MembershipModel.deleteOne({ orgId, userId });
    throw noSuchOrganization();
  }
  return 'added';
}

// ---------------------------------------------------------------- listing

const cursorOf = (m: Membership): string => encodeTimeCursor(m.joinedAt, m._id);

/** Strictly after the cursor's (joinedAt, _id): a total order, so nothing repeats or is skipped. */
function joinedAfter(after: string): Record<string, unknown> {
  const { time: joinedAt, id: lastId } = decodeTimeCursor(after);
  return { $or: [{ joinedAt: op({ $gt: joinedAt }) }, { joinedAt, _id: op({ $gt: lastId }) }] };
}

/**
 * `Organization.members`: oldest membership first, keyset-paged on (joinedAt, _id) by the index
 * orgId + joinedAt + _id. Members and site ADMINs only (`myRole`: the caller's role there, null
 * when not a member); an API key made for another organization sees nothing of this one.
 * NOT_FOUND otherwise, never FORBIDDEN: ids reveal nothing.
 */
export async function listMembers(
  me: AuthUser,
  myRole: OrgRole | null,
  orgId: string,
  first: number | null | undefined,
  after: string | null | undefined,
): Promise<Connection<Membership>> {
  const keyElsewhere = me.apiKey?.orgId !== undefined && me.apiKey.orgId !== orgId;
  if (keyElsewhere || (myRole === null && me.role !== 'ADMIN')) throw noSuchOrganization();
  const limit = pageSize(first);
  const where = after ? { orgId, ...joinedAfter(after) } : { orgId };
  const [rows, totalCount] = await Promise.all([
    limit === 0
      ? []
      : MembershipModel.find(where)
          .sort({ joinedAt: 1, _id: 1 })
          .limit(limit + 1)
          .lean<Membership[]>(),
    MembershipModel.countDocuments({ orgId }),
  ]);
  return toConnection(rows, limit, totalCount, Boolean(after), cursorOf);
}

// ---------------------------------------------------------------- user deletion

/**
 * The user-deletion hook: the last OWNER of an organization that has other members cannot go
 * (CONFLICT `LAST_OWNER`: someone must own it). Organizations they are the only member of go with
 * them (deleteMembershipsOf). `ownerCount` never exceeds the OWNERs there are, so it proves
 * another OWNER when above one.
 */
export async function assertNotLastOwner(userId: string): Promise<void> {
  const memberships = await MembershipModel.find({ userId }).lean<Membership[]>();
  const owned = memberships.filter((m) => m.role === OrgRole.OWNER).map((m) => m.orgId);
  if (owned.length === 0) return;
  const orgs = await OrganizationModel.find({ _id: op({ $in: owned }) }, { ownerCount: 1, slug: 1 }).lean<
    Organization[]
  >();
  for (const org of orgs) {
    if (org.ownerCount > 1) continue;
    const orgId = String(org._id);
    if (await MembershipModel.exists({ orgId, userId: op({ $ne: userId }) }))
      throw new ConflictError(
        `You are the last OWNER of the organization "${org.slug}", which has other members: transfer ownership first (make another member OWNER), or delete the organization`,
        { reason: 'LAST_OWNER', orgId },
      );
  }
}

/**
 * Ends a deleted user's membership whatever its role, keeping the counters: the removal answers
 * the role it had, so a parallel role change cannot make them drift. An OWNER's place is given up
 * only while another OWNER remains (`ownerCount > 1`, as a demotion); when the check before the
 * deletion passed but a parallel change took the other OWNER meanwhile (two OWNERs deleting their
 * accounts at once), the place goes to a successor instead (appointSuccessor). Answers whether
 * there was a membership, and the successor's id when one was appointed.
 */
export async function dropMembership(
  orgId: string,
  userId: string,
): Promise<{ dropped: boolean; successor?: Successor | null }> {
  const gone = await atomically(membershipLock(orgId, userId), () =>
    MembershipModel.findOneAndDelete({ orgId, userId }).lean<Membership>(),
  );
  if (!gone) return { dropped: false };
  await count(orgId, { memberCount: -1 });
  if (gone.role !== OrgRole.OWNER || (await releaseOwnerPlace(orgId))) return { dropped: true };
  return { dropped: true, successor: await appointSuccessor(orgId) };
}

/**
 * Gives up one of the organization's OWNER places unless it is the last (`ownerCount > 1`, one
 * conditional write): whether it did. Demotions, removals and a deleted OWNER's membership all
 * go through it, so the count never exceeds the OWNERs there are.
 */
export async function releaseOwnerPlace(orgId: string): Promise<boolean> {
  const released = await atomically(orgLock(orgId), () =>
    OrganizationModel.updateOne({ _id: orgId, ownerCount: op({ $gt: 1 }) }, { $inc: { ownerCount: -1 } }),
  );
  return released.modifiedCount > 0;
}

/** A member made OWNER because the last OWNER's account went, and the role they had. */
export interface Successor {
  userId: string;
  from: OrgRole;
}

/**
 * Makes the longest-standing ADMIN (or, without one, the longest-standing member) the OWNER of an
 * organization whose last OWNER just went; the OWNER place moves to them (`ownerCount` unchanged).
 * A compare-and-set on the role read, retried if a parallel change came first. Null when nobody
 * is left (the caller then erases the organization), or when an OWNER is found after all.
 */
async function appointSuccessor(orgId: string): Promise<Successor | null> {
  for (let attempt = 0; attempt < 5; attempt += 1) {
    const next =
      (await MembershipModel.findOne({ orgId, role: OrgRole.ADMIN })
        .sort({ joinedAt: 1, _id: 1 })
        .lean<Membership>()) ??
      (await MembershipModel.findOne({ orgId }).sort({ joinedAt: 1, _id: 1 }).lean<Membership>());
    if (!next) return null;
    // An OWNER after all (a promotion came first): the place that went is given up as usual.
    if (next.role === OrgRole.OWNER) {
      await count(orgId, { ownerCount: -1 });
      return null;
    }
    const promoted = await atomically(membershipLock(orgId, next.userId), () =>
      MembershipModel.updateOne({ orgId, userId: next.userId, role: next.role }, { $set: { role: OrgRole.OWNER } }),
    );
    if (promoted.modifiedCount > 0) return { userId: next.userId, from: next.role };
  }
  return null;
}
