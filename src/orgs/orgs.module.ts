import type { FeatureModule } from '../core/module';
import { ORG_AUDIT_EVENTS } from './org.audit';
import { OrgResolver } from './org.resolver';
import { orgPermissions } from './org.rules';
import { deleteMembershipsOf } from './org.service';
import { MembershipResolver, OrganizationMembersResolver } from './membership.resolver';
import { membershipPermissions } from './membership.rules';
import { assertNotLastOwner } from './membership.service';

/** Organizations: groups of users with roles (items, invitations and keys of their own come next). */
export const orgsModule: FeatureModule = {
  name: 'orgs',
  resolvers: [OrgResolver, OrganizationMembersResolver, MembershipResolver],
  rules: {
    ...orgPermissions,
    ...membershipPermissions,
    Mutation: { ...orgPermissions.Mutation, ...membershipPermissions.Mutation },
  },
  auditEvents: ORG_AUDIT_EVENTS,
  userHooks: { deleteUserData: deleteMembershipsOf, assertDeletable: assertNotLastOwner },
};
