import { rule } from 'graphql-shield';
import type { Context } from '../core/context';
import { allow, authenticationRequired, isAuthenticated } from '../http/access.rules';
import { canModify, notOwner } from './item.service';

/** Owner or ADMIN; a missing or malformed id is left to the resolver (NOT_FOUND / BAD_USER_INPUT). */
export const isItemOwnerOrAdmin = rule({ cache: 'strict' })(async (_parent, args: { id: string }, ctx: Context) => {
  if (!ctx.user) return authenticationRequired();
  return (await canModify(ctx.user, args.id)) ? true : notOwner('change');
});

export const itemPermissions = {
  Query: {
    item: isAuthenticated,
    items: isAuthenticated,
  },
  Mutation: {
    createItem: isAuthenticated,
    updateItem: isItemOwnerOrAdmin,
    deleteItem: isItemOwnerOrAdmin,
  },
  // Reachable only through the fields above, all of which already require a signed-in caller.
  Item: allow,
  ItemEdge: allow,
  ItemConnection: allow,
};
