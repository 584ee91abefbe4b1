import { publishEvent } from './events';

/** The bus channel that says a user's sessions, tokens, role or status changed. */
export const AUTH_EVENTS_CHANNEL = 'auth';

export interface AuthChangeMessage {
  userId: string;
}

/**
 * Tells every instance that what a user's credentials allow may have changed (a revoked session,
 * a bumped token version, a new role, a disabled account), after the change is committed, so
 * long-lived connections check theirs again at once instead of at their next periodic check.
 */
export function authChanged(userId: string): void {
  const message: AuthChangeMessage = { userId };
  publishEvent(AUTH_EVENTS_CHANNEL, message);
}
