import { Arg, Ctx, FieldResolver, ID, Mutation, Query, Resolver, Root } from 'type-graphql';
import { requireUser, type Context } from '../core/context';
import { callerOf } from '../users/user.actor';
import { CreateOrganizationInput } from './org.inputs';
import { REAUTH_ARGUMENT } from '../auth/reauthentication';
import { orgRoleLoader } from './org.access';
import { deleteOrganization } from './org-deletion.service';
import { Organization, OrgRole } from './org.model';
import * as orgs from './org.service';

@Resolver(() => Organization)
export class OrgResolver {
  @FieldResolver(() => OrgRole, {
    nullable: true,
    description: 'My role in it; null for a site ADMIN who is not a member.',
  })
  myRole(@Root() org: Organization, @Ctx() ctx: Context): Promise<OrgRole | null> {
    return orgRoleLoader(ctx, requireUser(ctx)).load(String(org._id));
  }

  @Query(() => [Organization], {
    description: 'The organizations I belong to; with all: true (site ADMIN only), every one (the first 1,000).',
  })
  organizations(
    @Arg('all', () => Boolean, { nullable: true }) all: boolean | null | undefined,
    @Ctx() ctx: Context,
  ): Promise<Organization[]> {
    return orgs.listOrganizations(requireUser(ctx), all === true);
  }

  @Query(() => Organization, { nullable: true, description: 'One organization; null unless I belong to it.' })
  organization(@Arg('id', () => ID) id: string, @Ctx() ctx: Context): Promise<Organization | null> {
    return orgs.findVisible(requireUser(ctx), id);
  }

  @Mutation(() => Organization, { description: 'Creates an organization; I become its OWNER. At most 20 per user.' })
  createOrganization(
    @Arg('input', () => CreateOrganizationInput) input: CreateOrganizationInput,
    @Ctx() ctx: Context,
  ): Promise<Organization> {
    return orgs.createOrganization(requireUser(ctx), input, callerOf(ctx));
  }

  @Mutation(() => Boolean, {
    description:
      'OWNER (or a site ADMIN), re-authenticated: deletes the organization with its items, memberships and invitations.',
  })
  deleteOrganization(
    @Arg('id', () => ID) id: string,
    @Arg('currentPassword', () => String, { nullable: true, description: REAUTH_ARGUMENT })
    currentPassword: string | null | undefined,
    @Ctx() ctx: Context,
  ): Promise<boolean> {
    return deleteOrganization(requireUser(ctx), id, currentPassword, callerOf(ctx));
  }

  @Mutation(() => Organization, { description: 'OWNER or ADMIN: renames the organization.' })
  renameOrganization(
    @Arg('id', () => ID) id: string,
    @Arg('name', () => String) name: string,
    @Ctx() ctx: Context,
  ): Promise<Organization> {
    return orgs.renameOrganization(requireUser(ctx), id, name);
  }
}
