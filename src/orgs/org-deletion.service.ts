import { requireReauthentication } from '../auth/reauthentication';
import type { AuthUser, Caller } from '../core/context';
import { ForbiddenError, NotFoundError, UnauthenticatedError } from '../core/errors';
import { deleteOrganizationData } from '../core/hooks';
import { isObjectId } from '../core/validation';
import { atomically } from '../infra/db';
import { audit } from '../auth/auth.audit';
import { User, UserModel } from '../users/user.model';
import { roleIn } from './org.access';
import { OrgEvent } from './org.audit';
import { membershipEnded } from './org.events';
import { MembershipModel, Organization, OrganizationModel, OrgRole } from './org.model';
import { deleteInvitationsOf } from './invitation.service';
import { orgLock } from './membership.service';

/**
 * `deleteOrganization`: its OWNER (or a site ADMIN), re-authenticated. A deletion cut off halfway
 * is finished by running it again: a marked organization is still found here.
 */
export async function deleteOrganization(
  me: AuthUser,
  id: string,
  currentPassword: string | null | undefined,
  caller: Caller,
): Promise<boolean> {
  const org = isObjectId(id) ? await OrganizationModel.findById(id.toLowerCase()).lean<Organization>() : null;
  const orgId = org ? String(org._id) : '';
  const role = org ? await roleIn(me.id, orgId) : null;
  if (!org || (role === null && me.role !== 'ADMIN')) throw new NotFoundError('No such organization');
  if (role !== OrgRole.OWNER && me.role !== 'ADMIN')
    throw new ForbiddenError('Only an OWNER may delete the organization', { reason: 'ORG_ROLE' });
  const account = await UserModel.findById(me.id).lean<User>();
  if (!account) throw new UnauthenticatedError();
  await requireReauthentication(me, account, currentPassword, caller, 'deleteOrganization');

  const removed = await eraseOrganization(orgId, me.id);
  audit(caller, OrgEvent.ORG_DELETED, {
    userId: me.id,
    actorId: me.id,
    details: { orgId, slug: org.slug, removed, resumed: org.deleting === true },
  });
  return true;
}

/**
 * Deletes an organization and everything in it: marks it (from then on it is gone for every
 * reader, and no one joins it or adds an item), ends its event streams, lets other features delete
 * their data (items), then deletes its invitations, memberships and itself. Idempotent.
 */
export async function eraseOrganization(orgId: string, actorId: string): Promise<number> {
  await atomically(orgLock(orgId), () => OrganizationModel.updateOne({ _id: orgId }, { $set: { deleting: true } }));
  membershipEnded(orgId, null);
  let removed = await deleteOrganizationData(orgId, actorId);
  removed += await deleteInvitationsOf(orgId);
  removed += (await MembershipModel.deleteMany({ orgId })).deletedCount;
  return removed + (await OrganizationModel.deleteOne({ _id: orgId })).deletedCount;
}
