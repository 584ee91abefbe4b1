import type { FeatureModule } from '../core/module';
import { InvitationResolver } from './invitation.resolver';
import { invitationPermissions } from './invitation.rules';
import { deleteExpiredInvitations } from './invitation.pending';
import { ORG_AUDIT_EVENTS } from './org.audit';
import { OrgResolver } from './org.resolver';
import { orgPermissions } from './org.rules';
import { deleteMembershipsOf } from './org.service';
import { MembershipResolver, OrganizationMembersResolver } from './membership.resolver';
import { membershipPermissions } from './membership.rules';
import { assertNotLastOwner } from './membership.service';

/** Organizations: groups of users with roles, and invitations by email (items and keys of their own come next). */
export const orgsModule: FeatureModule = {
  name: 'orgs',
  resolvers: [OrgResolver, InvitationResolver, OrganizationMembersResolver, MembershipResolver],
  rules: {
    ...orgPermissions,
    ...invitationPermissions,
    ...membershipPermissions,
    Query: { ...orgPermissions.Query, ...invitationPermissions.Query },
    Mutation: { ...orgPermissions.Mutation, ...invitationPermissions.Mutation, ...membershipPermissions.Mutation },
  },
  auditEvents: ORG_AUDIT_EVENTS,
  // Expired invitations go (FerretDB has no TTL indexes); pending ones give their places back.
  housekeeping: () => deleteExpiredInvitations(),
  userHooks: { deleteUserData: deleteMembershipsOf, assertDeletable: assertNotLastOwner },
};
