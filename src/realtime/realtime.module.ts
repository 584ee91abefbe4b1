import type { FeatureModule } from '../core/module';
import { RealtimeResolver } from './realtime.resolver';
import { realtimePermissions } from './realtime.rules';

export const realtimeModule: FeatureModule = {
  name: 'realtime',
  resolvers: [RealtimeResolver],
  rules: realtimePermissions,
  apiKeyGrants: { ITEMS_READ: { Subscription: ['itemEvents'] } },
};
