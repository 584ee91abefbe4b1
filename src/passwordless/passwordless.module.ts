import type { FeatureModule } from '../core/module';
import { op } from '../infra/db';
import { PASSWORDLESS_AUDIT_EVENTS } from './passwordless.audit';
import { passwordlessPermissions } from './passwordless.rules';
import { WebAuthnChallengeModel } from './passkey.model';
import { PasskeyResolver } from './passkey.resolver';
import { deletePasskeysOf, revokePasskeysOf } from './passkey.service';
import { ReauthResolver } from './reauth.resolver';
import { SignInCodeResolver } from './sign-in-code.resolver';
import { deleteExpiredSignInCodes, deleteSignInCodeOf, flushSignInCodes } from './sign-in-code.service';

/**
 * Signing in without a password: passkeys (WebAuthn) and sign-in codes by email, and
 * `reauthenticate`, which any strong factor satisfies before a sensitive change.
 */
export const passwordlessModule: FeatureModule = {
  name: 'passwordless',
  resolvers: [PasskeyResolver, SignInCodeResolver, ReauthResolver],
  rules: passwordlessPermissions,
  auditEvents: PASSWORDLESS_AUDIT_EVENTS,
  housekeeping: () =>
    Promise.all([
      WebAuthnChallengeModel.deleteMany({ expiresAt: op({ $lt: new Date() }) }),
      deleteExpiredSignInCodes(),
    ]),
  userHooks: {
    // A pending code dies with the credentials (disable, password reset); passkeys with a reset.
    revokeCredentials: (userId, revocation) =>
      Promise.all([deleteSignInCodeOf(userId), revokePasskeysOf(userId, revocation)]),
    deleteUserData: async (userId) => (await deleteSignInCodeOf(userId)) + (await deletePasskeysOf(userId)),
  },
  // A code request finishes after its answer (so its timing reveals nothing).
  flush: () => flushSignInCodes(),
};
