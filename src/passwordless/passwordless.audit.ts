import { eventNames } from '../core/module';

/**
 * Passkeys added and removed, sign-in codes mailed, sessions re-authenticated; a passkey whose
 * signature counter went backwards is how a cloned authenticator shows (warn).
 */
export const PASSWORDLESS_AUDIT_EVENTS = {
  PASSKEY_ADDED: 'info',
  PASSKEY_REMOVED: 'info',
  PASSKEY_CLONE_SUSPECTED: 'warn',
  SIGN_IN_CODE_SENT: 'info',
  REAUTHENTICATED: 'info',
} as const;

export const PasswordlessEvent = eventNames(PASSWORDLESS_AUDIT_EVENTS);
