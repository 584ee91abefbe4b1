import { eventNames } from '../core/module';

/** A provider identity linked to or unlinked from an account (a new way in: worth reading). */
export const SOCIAL_AUDIT_EVENTS = {
  IDENTITY_LINKED: 'info',
  IDENTITY_UNLINKED: 'info',
} as const;

export const SocialEvent = eventNames(SOCIAL_AUDIT_EVENTS);
