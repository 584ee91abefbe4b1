import type { FeatureModule } from '../core/module';
import { ORG_AUDIT_EVENTS } from './org.audit';
import { OrgResolver } from './org.resolver';
import { orgPermissions } from './org.rules';
import { deleteMembershipsOf } from './org.service';

/** Organizations: groups of users with roles (items, invitations and keys of their own come next). */
export const orgsModule: FeatureModule = {
  name: 'orgs',
  resolvers: [OrgResolver],
  rules: orgPermissions,
  auditEvents: ORG_AUDIT_EVENTS,
  userHooks: { deleteUserData: deleteMembershipsOf },
};
