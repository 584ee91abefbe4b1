import type { FeatureModule } from '../core/module';
import { deleteItemsOf, deleteOrganizationItems } from './item-quota.service';
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
  // Each closes the holder's quota, waits for creations in flight and deletes the items
  // (subscribers see DELETED): a deleted user's personal items (those made in organizations stay
  // there), a deleted organization's items.
  userHooks: { deleteUserData: deleteItemsOf },
  organizationHooks: { deleteOrganizationData: deleteOrganizationItems },
};
