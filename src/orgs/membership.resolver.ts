import { Arg, Ctx, FieldResolver, ID, Int, Mutation, Resolver, Root } from 'type-graphql';
import { requireUser, type Context } from '../core/context';
import type { Connection } from '../core/pagination';
import { callerOf } from '../users/user.actor';
import { userLoader } from '../users/user.loader';
import { PublicUser } from '../users/user.types';
import { orgRoleLoader } from './org.access';
import { Membership, Organization, OrgRole } from './org.model';
import { listMembers } from './membership.service';
import { leaveOrganization, removeMember, setMemberRole } from './membership-change.service';
import { MembershipConnection } from './membership.types';

@Resolver(() => Organization)
export class OrganizationMembersResolver {
  @FieldResolver(() => MembershipConnection, {
    description: 'Its members, oldest first (keyset-paged: first at most 100, default 20).',
  })
  async members(
    @Root() org: Organization,
    @Arg('first', () => Int, { nullable: true }) first: number | null | undefined,
    @Arg('after', () => String, { nullable: true }) after: string | null | undefined,
    @Ctx() ctx: Context,
  ): Promise<Connection<Membership>> {
    const me = requireUser(ctx);
    const orgId = String(org._id);
    // The same cached read as myRole: one per organization and request.
    return listMembers(me, await orgRoleLoader(ctx, me).load(orgId), orgId, first, after);
  }
}

@Resolver(() => Membership)
export class MembershipResolver {
  @FieldResolver(() => PublicUser)
  async user(@Root() membership: Membership, @Ctx() ctx: Context): Promise<PublicUser> {
    const user = await userLoader(ctx).load(membership.userId);
    // Deleted while the page was read (its memberships go right after it): the id without a name.
    return user ?? ({ _id: membership.userId, displayName: null } as unknown as PublicUser);
  }

  @Mutation(() => Membership, {
    description:
      "OWNER: sets any member's role; ADMIN: between ADMIN, MEMBER and VIEWER, never an OWNER's. The last OWNER cannot be demoted (CONFLICT).",
  })
  setMemberRole(
    @Arg('orgId', () => ID) orgId: string,
    @Arg('userId', () => ID) userId: string,
    @Arg('role', () => OrgRole) role: OrgRole,
    @Ctx() ctx: Context,
  ): Promise<Membership> {
    return setMemberRole(requireUser(ctx), orgId, userId, role, callerOf(ctx));
  }

  @Mutation(() => Boolean, {
    description:
      'OWNER: removes any member; ADMIN: any but OWNERs. The last OWNER cannot be removed (CONFLICT). Their items stay.',
  })
  removeMember(
    @Arg('orgId', () => ID) orgId: string,
    @Arg('userId', () => ID) userId: string,
    @Ctx() ctx: Context,
  ): Promise<boolean> {
    return removeMember(requireUser(ctx), orgId, userId, callerOf(ctx));
  }

  @Mutation(() => Boolean, {
    description:
      'Leaves the organization (my items stay with it). The last OWNER cannot (CONFLICT): transfer ownership or delete the organization first.',
  })
  leaveOrganization(@Arg('orgId', () => ID) orgId: string, @Ctx() ctx: Context): Promise<boolean> {
    return leaveOrganization(requireUser(ctx), orgId, callerOf(ctx));
  }
}
