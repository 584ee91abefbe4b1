import type { FeatureModule } from '../core/module';
import { op } from '../infra/db';
import { PASSWORDLESS_AUDIT_EVENTS } from './passwordless.audit';
import { passwordlessPermissions } from './passwordless.rules';
import { WebAuthnChallengeModel } from './passkey.model';
import { PasskeyResolver } from './passkey.resolver';
import { deletePasskeysOf, revokePasskeysOf } from './passkey.service';
import { ReauthResolver } from './reauth.resolver';

/**
 * Signing in without a password: passkeys (WebAuthn) and sign-in codes by email, and
 * `reauthenticate`, which any strong factor satisfies before a sensitive change.
 */
export const passwordlessModule: FeatureModule = {
  name: 'passwordless',
  resolvers: [PasskeyResolver, ReauthResolver],
  rules: passwordlessPermissions,
  auditEvents: PASSWORDLESS_AUDIT_EVENTS,
  housekeeping: () => WebAuthnChallengeModel.deleteMany({ expiresAt: op({ $lt: new Date() }) }),
  userHooks: { revokeCredentials: revokePasskeysOf, deleteUserData: deletePasskeysOf },
};
