import type { FeatureModule } from '../core/module';
import { ApiKeyResolver } from './apikey.resolver';
import { apiKeyPermissions } from './apikey.rules';
import { deleteApiKeysOf, revokeApiKeysOf } from './apikey.service';

export const apiKeysModule: FeatureModule = {
  name: 'apikeys',
  resolvers: [ApiKeyResolver],
  rules: apiKeyPermissions,
  userHooks: {
    revokeCredentials: (userId, { reason, actorId, ip, userAgent, logger }) =>
      revokeApiKeysOf(userId, { id: actorId, ip, userAgent, logger }, reason),
    deleteUserData: deleteApiKeysOf,
  },
};
