import { allow } from '../http/access.rules';

export const passwordlessPermissions = {
  Mutation: {
    // The mailed code is the credential.
    requestSignInCode: allow,
    signInWithCode: allow,
  },
};
