import { allow, isAuthenticated } from '../http/access.rules';

/** Any signed-in user may ask; the services check the caller's role in the organization. */
export const membershipPermissions = {
  Mutation: {
    setMemberRole: isAuthenticated,
    removeMember: isAuthenticated,
    leaveOrganization: isAuthenticated,
  },
  // Reachable only through Organization.members and setMemberRole, which decide access.
  Membership: allow,
  MembershipConnection: allow,
  MembershipEdge: allow,
};
