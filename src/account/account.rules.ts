import { allow, isAdmin, isAuthenticated, isSignedIn } from '../http/access.rules';

export const accountPermissions = {
  Mutation: {
    // Open to an unverified account even with REQUIRE_EMAIL_VERIFICATION: it is the way out.
    requestEmailVerification: isSignedIn,
    // The link's token is the credential for these.
    verifyEmail: allow,
    requestPasswordReset: allow,
    resetPassword: allow,
    confirmEmailChange: allow,
    requestEmailChange: isAuthenticated,
    deleteAccount: isAuthenticated,
    deleteUser: isAdmin,
  },
};
