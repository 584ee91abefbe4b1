import { registerEnumType } from 'type-graphql';
import type { AuditLevels, FeatureModule } from '../core/module';

/**
 * Every audit event type, as the GraphQL enum `AuditEventType`: filled from the modules'
 * `auditEvents` (defineAuditEventTypes) before the schema is built, so a feature adds its event
 * types in its own module. The stored value is the name, so old events stay readable.
 */
export const AuditEventType: Record<string, string> = {};
export type AuditEventType = string;
registerEnumType(AuditEventType, { name: 'AuditEventType', description: 'What happened.' });

const levels = new Map<string, 'info' | 'warn'>();

/** Registers the modules' audit event types; a type declared by two modules is a mistake. */
export function defineAuditEventTypes(modules: readonly Pick<FeatureModule, 'name' | 'auditEvents'>[]): void {
  const owners = new Map<string, string>();
  const declared: [string, AuditLevels[string]][] = [];
  for (const m of modules)
    for (const [type, level] of Object.entries(m.auditEvents ?? {})) {
      const owner = owners.get(type);
      if (owner && owner !== m.name) throw new Error(`audit event ${type} declared by ${owner} and ${m.name}`);
      owners.set(type, m.name);
      declared.push([type, level]);
    }
  for (const [type, level] of declared) {
    AuditEventType[type] = type;
    levels.set(type, level);
  }
}

export function isAuditEventType(value: unknown): value is AuditEventType {
  return typeof value === 'string' && levels.has(value);
}

/** The level an event's log line gets: warn for events worth an alert by themselves. */
export function auditLevel(type: AuditEventType): 'info' | 'warn' {
  return levels.get(type) ?? 'info';
}

/** `auth_events_total` labels: every audit event type in lower case (metrics start each at zero). */
export function auditEventLabels(): string[] {
  return [...levels.keys()].map((type) => type.toLowerCase());
}
