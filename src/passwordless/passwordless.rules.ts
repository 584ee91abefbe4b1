import { allow, isAuthenticated } from '../http/access.rules';

/**
 * Passkey and code sign-in need no identity (the passkey, the mailed code is the credential); managing passkeys and
 * re-authenticating need a signed-in caller, and the services ask for the re-authentication
 * window where the issue requires it (adding and deleting passkeys).
 */
export const passwordlessPermissions = {
  Query: {
    passkeys: isAuthenticated,
  },
  Mutation: {
    beginPasskeyRegistration: isAuthenticated,
    finishPasskeyRegistration: isAuthenticated,
    renamePasskey: isAuthenticated,
    deletePasskey: isAuthenticated,
    beginPasskeySignIn: allow,
    finishPasskeySignIn: allow,
    requestSignInCode: allow,
    signInWithCode: allow,
    reauthenticate: isAuthenticated,
  },
  Passkey: allow,
  Reauthentication: allow,
};
