import { isAdmin, isAuthenticated } from '../permissions/rules';

export const accountPermissions = {
  Mutation: {
    deleteAccount: isAuthenticated,
    deleteUser: isAdmin,
  },
};
