import { z } from 'zod';
import { audit } from '../auth/auth.audit';
import { undoUnlessUserActive } from '../users/user.guard';
import { recordAuditEvent } from '../audit/audit.service';
import type { Logger } from '../core/logger';
import type { AuthUser, Caller } from '../core/context';
import { ConflictError, ForbiddenError, NotFoundError } from '../core/errors';
import { isObjectId, parseInput } from '../core/validation';
import { op } from '../infra/db';
import { insertInFreeSlot } from '../infra/slots';
import { LIVE_ORG, Membership, MembershipModel, Organization, OrganizationModel, OrgRole } from './org.model';
import { OrgEvent } from './org.audit';
import { eraseOrganization } from './org-deletion.service';
import { atLeast, roleIn } from './org.access';
import { membershipEnded } from './org.events';
import { dropMembership } from './membership.service';

/** Organizations one user may create. */
export const MAX_ORGS_PER_USER = 20;

const nameSchema = z.string().trim().min(1, 'must not be empty').max(100, 'must be at most 100 characters');
const slugSchema = z
  .string()
  .regex(
    /^(?=.{3,40}$)[a-z0-9]+(-[a-z0-9]+)*$/,
    'must be 3 to 40 lower-case letters, digits and single hyphens, not starting or ending with one',
  );

/** `createOrganization`: the caller becomes its OWNER. A taken slug, or the 20th organization, is CONFLICT. */
export async function createOrganization(
  me: AuthUser,
  input: { name: string; slug: string },
  caller: Caller,
): Promise<Organization> {
  const { name, slug } = parseInput(z.object({ name: nameSchema, slug: slugSchema }), input);
  const org = await insertInCreatorSlot({ name, slug, createdBy: me.id });
  await MembershipModel.create({ orgId: String(org._id), userId: me.id, role: OrgRole.OWNER, joinedAt: new Date() });
  // Deleted or disabled meanwhile: the cascade may have passed, so the organization goes again.
  await undoUnlessUserActive(me.id, () => eraseOrganization(String(org._id), me.id));
  audit(caller, OrgEvent.ORG_CREATED, { userId: me.id, actorId: me.id, details: { orgId: String(org._id), slug } });
  return org;
}

/** `organizations`: mine, oldest membership first; `all` (site ADMIN only): every one, by creation. */
export async function listOrganizations(me: AuthUser, all: boolean): Promise<Organization[]> {
  if (all) {
    if (me.role !== 'ADMIN') throw new ForbiddenError('Administrators only', { reason: 'ADMIN_ONLY' });
    return OrganizationModel.find(LIVE_ORG).sort({ _id: 1 }).limit(1000).lean<Organization[]>();
  }
  const memberships = await MembershipModel.find({ userId: me.id }).sort({ orgId: 1 }).lean<Membership[]>();
  return OrganizationModel.find({ _id: op({ $in: memberships.map((m) => m.orgId) }), ...LIVE_ORG })
    .sort({ _id: 1 })
    .lean<Organization[]>();
}

const tooMany = () => new ConflictError(`At most ${MAX_ORGS_PER_USER} organizations per user`, { reason: 'ORG_LIMIT' });

const CREATOR_SLOTS = Array.from({ length: MAX_ORGS_PER_USER }, (_, i) => i);

/** Inserts the organization in one of its creator's free slots (the unique index decides races). */
function insertInCreatorSlot(fields: Pick<Organization, 'name' | 'slug' | 'createdBy'>): Promise<Organization> {
  return insertInFreeSlot({
    slots: CREATOR_SLOTS,
    taken: async () =>
      (await OrganizationModel.find({ createdBy: fields.createdBy }, { creatorSlot: 1 }).lean<Organization[]>()).map(
        (o) => o.creatorSlot,
      ),
    insert: async (creatorSlot) => (await OrganizationModel.create({ ...fields, creatorSlot })).toObject(),
    otherConflict: async () =>
      (await OrganizationModel.exists({ slug: fields.slug }))
        ? new ConflictError('This slug is taken', { field: 'slug' })
        : null,
    full: tooMany,
  });
}

/** One organization the caller may see (a member, or a site ADMIN), else null: ids reveal nothing. */
export async function findVisible(me: AuthUser, id: string): Promise<Organization | null> {
  if (!isObjectId(id)) return null;
  const orgId = id.toLowerCase();
  if (me.role !== 'ADMIN' && !(await MembershipModel.exists({ orgId, userId: me.id }))) return null;
  return OrganizationModel.findOne({ _id: orgId, ...LIVE_ORG }).lean<Organization>();
}

/** `renameOrganization`: OWNER or ADMIN of it (or a site ADMIN); NOT_FOUND for non-members. */
export async function renameOrganization(me: AuthUser, id: string, rawName: string): Promise<Organization> {
  const name = parseInput(nameSchema, rawName, 'name');
  if (!isObjectId(id)) throw new NotFoundError('No such organization');
  const orgId = id.toLowerCase();
  // The caller's membership and the organization, each read once.
  const [role, org] = await Promise.all([
    roleIn(me.id, orgId),
    OrganizationModel.findOne({ _id: orgId, ...LIVE_ORG }, { _id: 1 }).lean<Organization>(),
  ]);
  if (!org || (role === null && me.role !== 'ADMIN')) throw new NotFoundError('No such organization');
  if (me.role !== 'ADMIN' && !atLeast(role, OrgRole.ADMIN))
    throw new ForbiddenError('Only an OWNER or ADMIN of the organization may rename it', { reason: 'ORG_ROLE' });
  const renamed = await OrganizationModel.findOneAndUpdate(
    { _id: org._id, ...LIVE_ORG },
    { $set: { name } },
    { returnDocument: 'after' },
  ).lean<Organization>();
  if (!renamed) throw new NotFoundError('No such organization');
  return renamed;
}

/**
 * A deleted user's memberships go, keeping the organizations' member and OWNER counts; an
 * organization they were the only member of goes with them. Streams of those organizations'
 * events the user had end on every instance. (assertNotLastOwner refused the deletion before if
 * they were the last OWNER of an organization with other members; one that lost that race to a
 * parallel change hands the organization to a successor, audited.) Idempotent: a cascade cut off
 * halfway finishes when run again. Answers how many documents went.
 */
export async function deleteMembershipsOf(userId: string, actorId: string, logger: Logger): Promise<number> {
  const mine = await MembershipModel.find({ userId }).lean<Membership[]>();
  let removed = 0;
  for (const { orgId } of mine) {
    const others = await MembershipModel.exists({ orgId, userId: op({ $ne: userId }) });
    if (!others) {
      removed += await eraseOrganization(orgId, actorId);
      continue;
    }
    const { dropped, successor } = await dropMembership(orgId, userId);
    if (!dropped) continue;
    removed += 1;
    membershipEnded(orgId, userId);
    if (successor) {
      const details = { orgId, from: successor.from, to: OrgRole.OWNER, reason: 'LAST_OWNER_DELETED' };
      recordAuditEvent({ type: OrgEvent.MEMBER_ROLE_CHANGED, userId: successor.userId, actorId, details }, logger);
    } else if (successor === null && !(await MembershipModel.exists({ orgId }))) {
      // Everybody else left meanwhile: the organization goes, as with a sole member.
      removed += await eraseOrganization(orgId, actorId);
    }
  }
  return removed;
}
