import { allow, isAdmin, isAuthenticated } from '../http/access.rules';

export const userPermissions = {
  Query: {
    // Anonymous callers get null, never an error.
    me: allow,
    users: isAdmin,
  },
  Mutation: {
    setUserRole: isAdmin,
    setUserDisabled: isAdmin,
    unlockUser: isAdmin,
    updateProfile: isAuthenticated,
  },
  // A User (the private view) is only reachable through fields that already decided access
  // (me, users, admin mutations, auth payloads); other users' owners are PublicUser.
  User: allow,
  PublicUser: allow,
  UserEdge: allow,
  UserConnection: allow,
  PageInfo: allow,
};
