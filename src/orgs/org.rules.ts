import { allow, isAuthenticated } from '../http/access.rules';

/** Any signed-in user has organizations; the services check the role in each. */
export const orgPermissions = {
  Query: {
    organizations: isAuthenticated,
    organization: isAuthenticated,
  },
  Mutation: {
    createOrganization: isAuthenticated,
    renameOrganization: isAuthenticated,
    deleteOrganization: isAuthenticated,
  },
  // Reachable only through the fields above, which decide access.
  Organization: allow,
};
