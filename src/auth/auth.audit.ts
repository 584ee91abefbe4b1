import { AuditEventType, recordAuditEvent, type AuditEventInput } from '../audit/audit.service';
import type { Logger } from '../core/logger';
import type { ClientInfo } from './auth.types';

export { AuditEventType };

/** Records a security event with the caller's address and user agent (fire and forget). */
export function audit(
  logger: Logger,
  client: ClientInfo,
  type: AuditEventType,
  event: Omit<AuditEventInput, 'type' | 'ip' | 'userAgent'> = {},
): void {
  recordAuditEvent({ type, ip: client.ip ?? null, userAgent: client.userAgent ?? null, ...event }, logger);
}
