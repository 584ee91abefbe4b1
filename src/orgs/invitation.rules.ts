import { allow, isAuthenticated } from '../http/access.rules';

/**
 * Any signed-in user may reach the invitation fields; the services check the role in the
 * organization (OWNER or ADMIN) and, for acceptInvitation, the invited address. API keys reach
 * none of them (no scope grants them).
 */
export const invitationPermissions = {
  Query: {
    invitations: isAuthenticated,
  },
  Mutation: {
    inviteMember: isAuthenticated,
    revokeInvitation: isAuthenticated,
    acceptInvitation: isAuthenticated,
  },
  // Reachable only through the fields above, which decide access.
  Invitation: allow,
};
