import { allow, isAuthenticated } from '../http/access.rules';

/** Signing in through a provider needs no identity (the provider's is the credential); linking needs mine. */
export const socialPermissions = {
  Query: {
    signInProviders: allow,
    linkedIdentities: isAuthenticated,
  },
  Mutation: {
    startProviderSignIn: allow,
    finishProviderSignIn: allow,
    startProviderLink: isAuthenticated,
    finishProviderLink: isAuthenticated,
    unlinkIdentity: isAuthenticated,
  },
  SignInProvider: allow,
  ProviderRedirect: allow,
  LinkedIdentity: allow,
};
