import { eventNames } from '../core/module';

/** TOTP turned on or off, recovery codes replaced (after a session takeover, so would an attacker). */
export const MFA_AUDIT_EVENTS = {
  MFA_ENABLED: 'info',
  MFA_DISABLED: 'warn',
  MFA_RECOVERY_CODES_REGENERATED: 'warn',
} as const;

export const MfaEvent = eventNames(MFA_AUDIT_EVENTS);
