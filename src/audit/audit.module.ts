import type { FeatureModule } from '../core/module';
import { AuditResolver } from './audit.resolver';
import { auditPermissions } from './audit.rules';
import { deleteExpiredAuditEvents, flushAuditEvents } from './audit.service';

export const auditModule: FeatureModule = {
  name: 'audit',
  resolvers: [AuditResolver],
  rules: auditPermissions,
  housekeeping: (config) => deleteExpiredAuditEvents(config.auditRetentionDays),
  // Audit writes are fire-and-forget: let them reach the database before it closes.
  flush: (config) => flushAuditEvents(config.shutdownTimeoutMs),
};
