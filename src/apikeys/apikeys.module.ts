import type { FeatureModule } from '../core/module';
import { API_KEY_AUDIT_EVENTS } from './apikey.audit';
import { ApiKeyResolver } from './apikey.resolver';
import { apiKeyPermissions } from './apikey.rules';
import { deleteApiKeysOf, revokeApiKeysOf } from './apikey.service';
import { apiKeyStrategy } from './apikey.strategy';

export const apiKeysModule: FeatureModule = {
  name: 'apikeys',
  resolvers: [ApiKeyResolver],
  rules: apiKeyPermissions,
  auditEvents: API_KEY_AUDIT_EVENTS,
  authStrategies: [apiKeyStrategy],
  userHooks: {
    revokeCredentials: (userId, { reason, actorId, ip, userAgent, logger }) =>
      revokeApiKeysOf(userId, { id: actorId, ip, userAgent, logger }, reason),
    deleteUserData: deleteApiKeysOf,
  },
};
