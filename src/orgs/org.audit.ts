import { eventNames } from '../core/module';

/** Organizations made and deleted, and every membership change, each with its actor. */
export const ORG_AUDIT_EVENTS = {
  ORG_CREATED: 'info',
  ORG_DELETED: 'info',
  MEMBER_INVITED: 'info',
  MEMBER_JOINED: 'info',
  MEMBER_ROLE_CHANGED: 'info',
  MEMBER_REMOVED: 'info',
} as const;

export const OrgEvent = eventNames(ORG_AUDIT_EVENTS);
