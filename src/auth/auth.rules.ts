import { allow, isAuthenticated } from '../http/access.rules';

/** Signing up and in needs no identity; managing sessions needs one. */
export const authPermissions = {
  Query: {
    sessions: isAuthenticated,
  },
  Mutation: {
    register: allow,
    login: allow,
    // The refresh token is the credential here.
    refreshToken: allow,
    logout: allow,
    logoutAll: isAuthenticated,
    revokeSession: isAuthenticated,
    changePassword: isAuthenticated,
    setPassword: isAuthenticated,
  },
  // Payload types are reachable only through the fields above, which decide access.
  AuthPayload: allow,
  Session: allow,
};
