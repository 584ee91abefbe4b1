import DataLoader from 'dataloader';
import type { AuthUser, Context } from '../core/context';
import { driverCollection, op } from '../infra/db';
import { Membership, MembershipModel, OrgRole } from './org.model';

/** Roles from least to most: each may do what the ones before it may. */
const RANK: Record<OrgRole, number> = {
  [OrgRole.VIEWER]: 0,
  [OrgRole.MEMBER]: 1,
  [OrgRole.ADMIN]: 2,
  [OrgRole.OWNER]: 3,
};

/** Whether `role` is `least` or above (null, not a member: never). */
export function atLeast(role: OrgRole | null | undefined, least: OrgRole): boolean {
  return role !== null && role !== undefined && RANK[role] >= RANK[least];
}

/** A user's role in each of the given organizations (one read). */
export async function rolesOf(userId: string, orgIds: readonly string[]): Promise<Map<string, OrgRole>> {
  const memberships = await MembershipModel.find({ userId, orgId: op({ $in: [...orgIds] }) }).lean<Membership[]>();
  return new Map(memberships.map((m) => [m.orgId, m.role]));
}

const memberships = driverCollection<Pick<Membership, 'orgId' | 'userId' | 'role'>>(MembershipModel);

/**
 * A user's role in one organization, or null when they are not a member. Straight to the driver:
 * an organization's every request reads it (ids and roles are plain strings, nothing to cast).
 */
export async function roleIn(userId: string, orgId: string): Promise<OrgRole | null> {
  const membership = await memberships.findOne(
    { orgId: String(orgId), userId: String(userId) },
    { projection: { role: 1 } },
  );
  return membership?.role ?? null;
}

/**
 * The id of a user's membership of an organization, or null: a membership that ended and began
 * again is another one (an organization API key made under the first does not act under the second).
 */
export async function membershipIdOf(userId: string, orgId: string): Promise<string | null> {
  const membership = await MembershipModel.findOne({ orgId, userId }, { _id: 1 }).lean<Pick<Membership, '_id'>>();
  return membership ? String(membership._id) : null;
}

/**
 * The caller's role per organization, batched and cached for the request: every rule and field
 * of one request that asks shares one read. Keyed by user as well, since a subscription event's
 * loaders are shared by every subscriber of that event.
 */
export function orgRoleLoader(ctx: Pick<Context, 'loaders'>, caller: AuthUser): DataLoader<string, OrgRole | null> {
  const key = `orgRole:${caller.id}`;
  let loader = ctx.loaders.get(key) as DataLoader<string, OrgRole | null> | undefined;
  if (!loader) {
    loader = new DataLoader(async (ids: readonly string[]) => {
      // Mostly one organization per request: one indexed read, without a query builder.
      if (ids.length === 1) return [await roleIn(caller.id, ids[0]!)];
      const roles = await rolesOf(caller.id, ids);
      return ids.map((id) => roles.get(id) ?? null);
    });
    ctx.loaders.set(key, loader);
  }
  return loader;
}
