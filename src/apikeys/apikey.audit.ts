import { eventNames } from '../core/module';

/** API keys created and revoked. */
export const API_KEY_AUDIT_EVENTS = {
  API_KEY_CREATED: 'info',
  API_KEY_REVOKED: 'info',
} as const;

export const ApiKeyEvent = eventNames(API_KEY_AUDIT_EVENTS);
