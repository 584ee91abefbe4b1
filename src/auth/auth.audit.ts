import { AuditEventType, recordAuditEvent, type AuditEventInput } from '../audit/audit.service';
import type { Caller } from '../core/context';
import { currentMetrics } from '../observability/metrics.registry';

export { AuditEventType };

/** `auth_events_total` labels: every audit event type in lower case (metrics start each at zero). */
export const AUTH_EVENT_LABELS: readonly string[] = Object.values(AuditEventType).map((type) => type.toLowerCase());

/**
 * Records a security event with the caller's address and user agent (fire and forget), and counts
 * it in `auth_events_total` (the type in lower case: a bounded label).
 */
export function audit(
  { client, logger }: Pick<Caller, 'client' | 'logger'>,
  type: AuditEventType,
  event: Omit<AuditEventInput, 'type' | 'ip' | 'userAgent'> = {},
): void {
  currentMetrics()?.authEvents.inc({ event: type.toLowerCase() });
  recordAuditEvent({ type, ip: client.ip ?? null, userAgent: client.userAgent ?? null, ...event }, logger);
}
