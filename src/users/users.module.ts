import type { FeatureModule } from '../core/module';
import { USER_AUDIT_EVENTS } from './user.audit';
import { AccountTokenModel } from './account-token.model';
import { cancelTokens, deleteExpiredAccountTokens } from './account-token.service';
import { UserResolver } from './user.resolver';
import { userPermissions } from './user.rules';

export const usersModule: FeatureModule = {
  name: 'users',
  resolvers: [UserResolver],
  rules: userPermissions,
  auditEvents: USER_AUDIT_EVENTS,
  apiKeyGrants: { ITEMS_READ: { Query: ['me'] } },
  housekeeping: () => deleteExpiredAccountTokens(),
  userHooks: {
    // Pending links (verification, reset, email change) die with the credentials.
    revokeCredentials: (userId) => cancelTokens(userId),
    deleteUserData: async (userId) => (await AccountTokenModel.deleteMany({ userId })).deletedCount,
  },
};
