import { allow, isAdmin, isAuthenticated } from '../http/access.rules';

/** Only the signed-in owner manages their second factor; an admin may only turn it off. */
export const mfaPermissions = {
  Mutation: {
    beginTotpSetup: isAuthenticated,
    confirmTotpSetup: isAuthenticated,
    disableTotp: isAuthenticated,
    regenerateRecoveryCodes: isAuthenticated,
    resetUserTotp: isAdmin,
  },
  // Reachable only through beginTotpSetup.
  TotpSetup: allow,
};
