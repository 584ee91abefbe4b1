import type { FeatureModule } from '../core/module';
import { MFA_AUDIT_EVENTS } from './totp.audit';
import { TotpResolver } from './totp.resolver';
import { mfaPermissions } from './totp.rules';
import { deleteTotpOf } from './totp.service';
import { verifySecondFactor } from './totp.verify';

export const mfaModule: FeatureModule = {
  name: 'mfa',
  resolvers: [TotpResolver],
  rules: mfaPermissions,
  auditEvents: MFA_AUDIT_EVENTS,
  // Password sign-in asks for this when the account has TOTP turned on.
  secondFactor: verifySecondFactor,
  userHooks: { deleteUserData: deleteTotpOf },
};
