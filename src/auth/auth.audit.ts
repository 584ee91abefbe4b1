import { recordAuditEvent, type AuditEventInput } from '../audit/audit.service';
import { eventNames } from '../core/module';
import type { Caller } from '../core/context';
import { currentMetrics } from '../observability/metrics.registry';

/** What sign-in, sessions and passwords record (warn: worth an alert; a used recovery code is how a takeover would look). */
export const AUTH_AUDIT_EVENTS = {
  LOGIN_SUCCEEDED: 'info',
  LOGIN_FAILED: 'warn',
  ACCOUNT_LOCKED: 'warn',
  REFRESH_TOKEN_REUSED: 'warn',
  SESSION_REVOKED: 'info',
  LOGGED_OUT_ALL: 'info',
  PASSWORD_CHANGED: 'info',
  MFA_RECOVERY_CODE_USED: 'warn',
} as const;

export const AuthEvent = eventNames(AUTH_AUDIT_EVENTS);

/**
 * Records a security event with the caller's address and user agent (fire and forget), and counts
 * it in `auth_events_total` (the type in lower case: a bounded label).
 */
export function audit(
  { client, logger }: Pick<Caller, 'client' | 'logger'>,
  type: string,
  event: Omit<AuditEventInput, 'type' | 'ip' | 'userAgent'> = {},
): void {
  currentMetrics()?.authEvents.inc({ event: type.toLowerCase() });
  recordAuditEvent({ type, ip: client.ip ?? null, userAgent: client.userAgent ?? null, ...event }, logger);
}
