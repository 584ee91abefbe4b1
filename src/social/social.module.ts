import type { FeatureModule } from '../core/module';
import { op } from '../infra/db';
import { LinkedIdentityModel } from './identity.model';
import { OidcStateModel } from './oidc-state.model';
import { SOCIAL_AUDIT_EVENTS } from './social.audit';
import { SocialResolver } from './social.resolver';
import { socialPermissions } from './social.rules';
import { revokeIdentitiesOf } from './social.service';

/** Sign-in through OpenID Connect providers, and the identities linked to accounts. */
export const socialModule: FeatureModule = {
  name: 'social',
  resolvers: [SocialResolver],
  rules: socialPermissions,
  auditEvents: SOCIAL_AUDIT_EVENTS,
  housekeeping: () => OidcStateModel.deleteMany({ expiresAt: op({ $lt: new Date() }) }),
  userHooks: {
    revokeCredentials: revokeIdentitiesOf,
    deleteUserData: async (userId) => {
      const [identities, states] = await Promise.all([
        LinkedIdentityModel.deleteMany({ userId }),
        OidcStateModel.deleteMany({ userId }),
      ]);
      return identities.deletedCount + states.deletedCount;
    },
  },
};
