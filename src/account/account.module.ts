import type { FeatureModule } from '../core/module';
import { ACCOUNT_AUDIT_EVENTS } from './account.audit';
import { AccountResolver } from './account.resolver';
import { accountPermissions } from './account.rules';
import { flushPasswordResets } from './password-reset.service';

export const accountModule: FeatureModule = {
  name: 'account',
  resolvers: [AccountResolver],
  rules: accountPermissions,
  auditEvents: ACCOUNT_AUDIT_EVENTS,
  // A password reset request finishes after its answer (so its timing reveals nothing).
  flush: () => flushPasswordResets(),
};
