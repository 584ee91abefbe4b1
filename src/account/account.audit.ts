import { eventNames } from '../core/module';

/** The account lifecycle; a reset or an email change is how an account is taken over once a mailbox or a session is. */
export const ACCOUNT_AUDIT_EVENTS = {
  EMAIL_VERIFIED: 'info',
  EMAIL_CHANGED: 'warn',
  PASSWORD_RESET: 'warn',
  USER_DELETED: 'info',
} as const;

export const AccountEvent = eventNames(ACCOUNT_AUDIT_EVENTS);
