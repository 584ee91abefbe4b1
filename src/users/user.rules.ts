import { allow, isAdmin } from '../permissions/rules';

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
  },
  // A User is only reachable through fields that already decided access (me, users, payloads, owners).
  User: allow,
  UserEdge: allow,
  UserConnection: allow,
  PageInfo: allow,
};
