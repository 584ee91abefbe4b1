import { ConflictError, isDuplicateKeyError, NotFoundError } from '../core/errors';
import { atomically, op } from '../infra/db';
import { LIVE_ORG, MembershipModel, OrganizationModel, OrgRole } from './org.model';

/** Members one organization may have. */
export const MAX_MEMBERS_PER_ORG = 1000;

/** The lock key of an organization's counters (conditional writes are queued per key on FerretDB). */
export const orgLock = (orgId: string) => `org:${orgId}`;

const noSuchOrganization = () => new NotFoundError('No such organization');

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
    if (!(await OrganizationModel.exists({ _id: orgId, ...LIVE_ORG }))) throw noSuchOrganization();
    throw new ConflictError(`An organization has at most ${MAX_MEMBERS_PER_ORG} members`, { reason: 'MEMBER_LIMIT' });
  }
  const giveBack = () =>
    atomically(orgLock(orgId), () =>
      OrganizationModel.updateOne({ _id: orgId }, { $inc: { memberCount: -1, ownerCount: -owners } }),
    );
  try {
    await MembershipModel.create({ orgId, userId, role, joinedAt: new Date() });
  } catch (err) {
    await giveBack();
    if (isDuplicateKeyError(err)) return 'already';
    throw err;
  }
  // Deleted meanwhile: deleteOrganization removed the memberships it saw, not this one.
  if (!(await OrganizationModel.exists({ _id: orgId, ...LIVE_ORG }))) {
    await MembershipModel.deleteOne({ orgId, userId });
    throw noSuchOrganization();
  }
  return 'added';
}
