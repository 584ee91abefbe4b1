import type { FeatureModule } from '../core/module';
import { deleteItemsOf } from './item-quota.service';
import { ItemResolver } from './item.resolver';
import { itemPermissions } from './item.rules';

export const itemsModule: FeatureModule = {
  name: 'items',
  resolvers: [ItemResolver],
  rules: itemPermissions,
  apiKeyGrants: {
    ITEMS_READ: { Query: ['item', 'items'] },
    ITEMS_WRITE: { Mutation: ['createItem', 'updateItem', 'deleteItem'] },
  },
  // Closes the quota, waits for creations in flight, deletes the items (subscribers see DELETED).
  userHooks: { deleteUserData: deleteItemsOf },
};
