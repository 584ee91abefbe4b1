import type { FeatureModule } from '../core/module';
import { PASSWORDLESS_AUDIT_EVENTS } from './passwordless.audit';

/**
 * Signing in without a password: passkeys (WebAuthn) and sign-in codes by email, and
 * `reauthenticate`, which any strong factor satisfies before a sensitive change.
 */
export const passwordlessModule: FeatureModule = {
  name: 'passwordless',
  auditEvents: PASSWORDLESS_AUDIT_EVENTS,
};
