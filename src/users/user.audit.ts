import { eventNames } from '../core/module';

/** What admins do to users. */
export const USER_AUDIT_EVENTS = {
  ACCOUNT_UNLOCKED: 'info',
  ROLE_CHANGED: 'info',
  USER_DISABLED: 'warn',
  USER_ENABLED: 'info',
} as const;

export const UserEvent = eventNames(USER_AUDIT_EVENTS);
