import { allow, isAdmin } from '../http/access.rules';

export const auditPermissions = {
  Query: {
    auditEvents: isAdmin,
  },
  // Reachable only through auditEvents, which already requires an admin.
  AuditEvent: allow,
  AuditDetail: allow,
  AuditEventEdge: allow,
  AuditEventConnection: allow,
};
