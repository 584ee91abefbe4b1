import { eventNames } from '../core/module';

/** Organizations made (and, as membership changes land, who joined, left or changed role). */
export const ORG_AUDIT_EVENTS = {
  ORG_CREATED: 'info',
} as const;

export const OrgEvent = eventNames(ORG_AUDIT_EVENTS);
