import { audit } from '../auth/auth.audit';
import type { AuthUser, Caller } from '../core/context';
import { ConflictError, ForbiddenError, NotFoundError } from '../core/errors';
import { isObjectId } from '../core/validation';
import { atomically } from '../infra/db';
import { atLeast, roleIn } from './org.access';
import { OrgEvent } from './org.audit';
import { membershipEnded } from './org.events';
import { Membership, MembershipModel, OrgRole, isLiveOrganization } from './org.model';
import { count, membershipLock, noSuchOrganization, releaseOwnerPlace } from './membership.service';

/** How often a change reads the membership again after a parallel change to it came first. */
const MAX_ATTEMPTS = 5;

const noSuchMember = () => new NotFoundError('No such member');
const roleTooLow = (message: string) => new ForbiddenError(message, { reason: 'ORG_ROLE' });
const lastOwner = (message: string) => () => new ConflictError(message, { reason: 'LAST_OWNER' });

/**
 * The caller's powers in an organization: its role there, an OWNER's for a site ADMIN (who
 * manages everything). NOT_FOUND for anyone else, and for a malformed id: ids reveal nothing.
 */
async function powersIn(me: AuthUser, rawOrgId: string): Promise<{ orgId: string; role: OrgRole }> {
  if (!isObjectId(rawOrgId)) throw noSuchOrganization();
  const orgId = rawOrgId.toLowerCase();
  if (me.role === 'ADMIN') {
    if (!(await isLiveOrganization(orgId))) throw noSuchOrganization();
    return { orgId, role: OrgRole.OWNER };
  }
  const role = await roleIn(me.id, orgId);
  if (role === null) throw noSuchOrganization();
  return { orgId, role };
}

/** OWNERs and ADMINs manage members; only OWNERs touch OWNERs (change, remove, or make one). */
function assertMayManage(mine: OrgRole, from: OrgRole | null, to: OrgRole | null): void {
  if (!atLeast(mine, OrgRole.ADMIN))
    throw roleTooLow("Only an OWNER or ADMIN of the organization manages its members' roles");
  if (mine !== OrgRole.OWNER && (from === OrgRole.OWNER || to === OrgRole.OWNER))
    throw roleTooLow('Only an OWNER changes, removes or makes OWNERs');
}

/**
 * Gives up one of the organization's OWNER places unless it is the last, before the membership
 * changes: so the count never exceeds the OWNERs there are, and of two OWNERs demoting each other
 * at once only one can succeed. (A promotion counts its place only once it is made, so the count
 * may be one short for a moment and refuse a demotion it need not: never the other way round.)
 */
async function giveUpOwnerPlace(orgId: string, refusal: () => Error): Promise<void> {
  if (await releaseOwnerPlace(orgId)) return;
  if (!(await isLiveOrganization(orgId))) throw noSuchOrganization();
  throw refusal();
}

/**
 * One attempt at a change (`to` null: removal), as a compare-and-set on the role it was decided
 * on; false, with nothing changed, when a parallel change to the membership came first.
 */
async function tryChange(current: Membership, to: OrgRole | null, refusal: () => Error): Promise<boolean> {
  const { orgId, userId, role: from } = current;
  const losesOwner = from === OrgRole.OWNER && to !== OrgRole.OWNER;
  if (losesOwner) await giveUpOwnerPlace(orgId, refusal);
  const asRead = { orgId, userId, role: from };
  const changed = await atomically(membershipLock(orgId, userId), async () =>
    to === null
      ? (await MembershipModel.deleteOne(asRead)).deletedCount
      : (await MembershipModel.updateOne(asRead, { $set: { role: to } })).modifiedCount,
  );
  if (changed === 0) {
    if (losesOwner) await count(orgId, { ownerCount: 1 });
    return false;
  }
  if (to === OrgRole.OWNER) await count(orgId, { ownerCount: 1 });
  // The member place is given back once the membership is gone, so the member cap holds meanwhile.
  if (to === null) await count(orgId, { memberCount: -1 });
  return true;
}

interface Change {
  from: OrgRole;
  /** null: the membership went. */
  to: OrgRole | null;
  /** False when the membership already had the role asked for. */
  changed: boolean;
  /** The membership after the change (as it was, for a removal). */
  membership: Membership;
}

/**
 * Changes one membership's role, or removes it, as `decide` says on seeing its role (throwing to
 * refuse). When a parallel change to the same membership came first, it is read and decided
 * again: two admins changing one member's role at once both succeed, one after the other, each
 * audited with what it changed; a member removed meanwhile is NOT_FOUND.
 */
async function changeMembership(
  orgId: string,
  rawUserId: string,
  decide: (from: OrgRole) => OrgRole | null,
  refusal: () => Error,
): Promise<Change> {
  if (!isObjectId(rawUserId)) throw noSuchMember();
  const userId = rawUserId.toLowerCase();
  for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt += 1) {
    const current = await MembershipModel.findOne({ orgId, userId }).lean<Membership>();
    if (!current) throw noSuchMember();
    const from = current.role;
    const to = decide(from);
    const membership = { ...current, role: to ?? from };
    if (to === from) return { from, to, changed: false, membership };
    if (await tryChange(current, to, refusal)) return { from, to, changed: true, membership };
  }
  throw new ConflictError('The membership kept changing meanwhile; try again', { reason: 'CONCURRENT_CHANGE' });
}

/**
 * `setMemberRole`: an OWNER sets any role; an ADMIN moves members between ADMIN, MEMBER and
 * VIEWER (FORBIDDEN `ORG_ROLE` for anything touching OWNERs); the last OWNER cannot be demoted
 * (CONFLICT `LAST_OWNER`). NOT_FOUND for a non-member caller or target.
 */
export async function setMemberRole(
  me: AuthUser,
  rawOrgId: string,
  rawUserId: string,
  role: OrgRole,
  caller: Caller,
): Promise<Membership> {
  const { orgId, role: mine } = await powersIn(me, rawOrgId);
  assertMayManage(mine, null, null);
  const change = await changeMembership(
    orgId,
    rawUserId,
    (from) => {
      assertMayManage(mine, from, role);
      return role;
    },
    lastOwner('The last OWNER cannot be demoted: make another member OWNER first'),
  );
  if (change.changed)
    audit(caller, OrgEvent.MEMBER_ROLE_CHANGED, {
      userId: change.membership.userId,
      actorId: me.id,
      details: { orgId, from: change.from, to: role },
    });
  return change.membership;
}

/** After a membership went: streams of its events end on every instance, and the audit log says who did it. */
function removed(caller: Caller, me: AuthUser, { membership, from }: Change, left: boolean): true {
  membershipEnded(membership.orgId, membership.userId);
  audit(caller, OrgEvent.MEMBER_REMOVED, {
    userId: membership.userId,
    actorId: me.id,
    details: { orgId: membership.orgId, role: from, left },
  });
  return true;
}

/**
 * `removeMember`: an OWNER removes anyone, an ADMIN anyone but OWNERs (FORBIDDEN `ORG_ROLE`);
 * the last OWNER stays (CONFLICT `LAST_OWNER`). The member's items stay with the organization.
 */
export async function removeMember(me: AuthUser, rawOrgId: string, rawUserId: string, caller: Caller): Promise<true> {
  const { orgId, role: mine } = await powersIn(me, rawOrgId);
  assertMayManage(mine, null, null);
  const change = await changeMembership(
    orgId,
    rawUserId,
    (from) => {
      assertMayManage(mine, from, null);
      return null;
    },
    lastOwner('The last OWNER cannot be removed: make another member OWNER first'),
  );
  return removed(caller, me, change, false);
}

/**
 * `leaveOrganization`: any member leaves, but the last OWNER (CONFLICT `LAST_OWNER`). A site
 * ADMIN who is not a member has nothing to leave (NOT_FOUND).
 */
export async function leaveOrganization(me: AuthUser, rawOrgId: string, caller: Caller): Promise<true> {
  const orgId = isObjectId(rawOrgId) ? rawOrgId.toLowerCase() : null;
  if (orgId === null || (await roleIn(me.id, orgId)) === null) throw noSuchOrganization();
  const change = await changeMembership(
    orgId,
    me.id,
    () => null,
    lastOwner(
      'The last OWNER cannot leave: transfer ownership first (make another member OWNER), or delete the organization',
    ),
  );
  return removed(caller, me, change, true);
}
