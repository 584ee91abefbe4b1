import type { FeatureModule } from '../core/module';
import { PASSWORDLESS_AUDIT_EVENTS } from './passwordless.audit';
import { passwordlessPermissions } from './passwordless.rules';
import { SignInCodeResolver } from './sign-in-code.resolver';
import { deleteExpiredSignInCodes, deleteSignInCodeOf, flushSignInCodes } from './sign-in-code.service';

/**
 * Signing in without a password: passkeys (WebAuthn) and sign-in codes by email, and
 * `reauthenticate`, which any strong factor satisfies before a sensitive change.
 */
export const passwordlessModule: FeatureModule = {
  name: 'passwordless',
  resolvers: [SignInCodeResolver],
  rules: passwordlessPermissions,
  auditEvents: PASSWORDLESS_AUDIT_EVENTS,
  housekeeping: () => deleteExpiredSignInCodes(),
  userHooks: {
    // A pending code dies with the credentials (disable, password reset) and with the user.
    revokeCredentials: (userId) => deleteSignInCodeOf(userId),
    deleteUserData: (userId) => deleteSignInCodeOf(userId),
  },
  // A code request finishes after its answer (so its timing reveals nothing).
  flush: () => flushSignInCodes(),
};
