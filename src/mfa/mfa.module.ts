import type { FeatureModule } from '../core/module';
import { TotpResolver } from './totp.resolver';
import { mfaPermissions } from './totp.rules';
import { deleteTotpOf } from './totp.service';
import { verifySecondFactor } from './totp.verify';

export const mfaModule: FeatureModule = {
  name: 'mfa',
  resolvers: [TotpResolver],
  rules: mfaPermissions,
  // Password sign-in asks for this when the account has TOTP turned on.
  secondFactor: verifySecondFactor,
  userHooks: { deleteUserData: deleteTotpOf },
};
