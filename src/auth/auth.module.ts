import type { FeatureModule } from '../core/module';
import { AUTH_AUDIT_EVENTS } from './auth.audit';
import { AuthResolver } from './auth.resolver';
import { authPermissions } from './auth.rules';
import { passwordStrategy } from './basic.strategy';
import { accessTokenStrategy } from './bearer.strategy';
import { forgetSealedChildren } from './refresh.service';
import { SessionModel } from './session.model';
import { deleteExpiredSessions, revokeAllSessions } from './session.service';

export const authModule: FeatureModule = {
  name: 'auth',
  resolvers: [AuthResolver],
  rules: authPermissions,
  auditEvents: AUTH_AUDIT_EVENTS,
  authStrategies: [accessTokenStrategy, passwordStrategy],
  housekeeping: (config) => Promise.all([deleteExpiredSessions(config), forgetSealedChildren(config)]),
  userHooks: {
    revokeCredentials: (userId) => revokeAllSessions(userId),
    deleteUserData: async (userId) => (await SessionModel.deleteMany({ userId })).deletedCount,
  },
};
