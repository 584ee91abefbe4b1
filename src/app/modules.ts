import { accountModule } from '../account/account.module';
import { apiKeysModule } from '../apikeys/apikeys.module';
import { auditModule } from '../audit/audit.module';
import { authModule } from '../auth/auth.module';
import { defineAuditEventTypes } from '../audit/audit-event-types';
import { installModules } from '../core/hooks';
import type { FeatureModule } from '../core/module';
import { itemsModule } from '../items/items.module';
import { mailModule } from '../mail/mail.module';
import { mfaModule } from '../mfa/mfa.module';
import { orgsModule } from '../orgs/orgs.module';
import { passwordlessModule } from '../passwordless/passwordless.module';
import { realtimeModule } from '../realtime/realtime.module';
import { socialModule } from '../social/social.module';
import { usersModule } from '../users/users.module';

/**
 * Every feature of the application, each a folder under src/ exporting one module. A feature
 * is added here and nowhere else. The order is the layering of the features (each may use those
 * before it) and the order in which user hooks run: a deleted user's mail, links, sessions, TOTP
 * credentials, memberships, API keys, items, passkeys and sign-in codes, then linked identities.
 */
export const MODULES: readonly FeatureModule[] = [
  auditModule,
  mailModule,
  usersModule,
  authModule,
  mfaModule,
  orgsModule,
  apiKeysModule,
  itemsModule,
  accountModule,
  passwordlessModule,
  socialModule,
  realtimeModule,
];

/**
 * Plugs the modules in before anything runs: the hooks features call one another through, and
 * the AuditEventType enum (the schema and the auth_events_total labels are made of it).
 * Idempotent: the server and the schema printer both call it.
 */
export function installFeatureModules(): void {
  installModules(MODULES);
  defineAuditEventTypes(MODULES);
}
