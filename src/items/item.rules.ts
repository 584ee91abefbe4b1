import { and, rule } from 'graphql-shield';
import type { Context } from '../core/context';
import { allow, authenticationRequired, isAuthenticated } from '../http/access.rules';
import { createRefusal, listRefusal, writeAccess } from './item.access';

/*
 * Each rule answers with the refusal (NOT_FOUND where the organization or item must not be seen
 * to exist, FORBIDDEN for a role too low) or lets the resolver answer for a missing or malformed
 * id. The roles are read once per request (orgRoleLoader), shared with the services' own writes.
 */

/** updateItem / deleteItem: personal items their owner or a site ADMIN; an organization's by role (item.access.ts). */
export const mayModifyItem = rule({ cache: 'strict' })(async (_parent, args: { id: string }, ctx: Context, info) => {
  if (!ctx.user) return authenticationRequired();
  const access = await writeAccess(ctx, ctx.user, args.id, info.fieldName === 'deleteItem' ? 'delete' : 'change');
  return 'refusal' in access ? access.refusal : true;
});

/** createItem in an organization: MEMBER or above. */
const mayCreateItem = rule({ cache: 'strict' })(
  async (_parent, args: { input?: { orgId?: string | null } }, ctx: Context) =>
    ctx.user ? ((await createRefusal(ctx, ctx.user, args.input?.orgId)) ?? true) : authenticationRequired(),
);

/** items of an organization: its members (and site ADMINs). */
const mayListItems = rule({ cache: 'strict' })(
  async (_parent, args: { filter?: { orgId?: string | null } | null }, ctx: Context) =>
    ctx.user ? ((await listRefusal(ctx, ctx.user, args.filter?.orgId)) ?? true) : authenticationRequired(),
);

export const itemPermissions = {
  Query: {
    // An organization's item the caller may not see is null (the resolver decides).
    item: isAuthenticated,
    items: and(isAuthenticated, mayListItems),
  },
  // `and`, not `chain` (see apikey.rules.ts): the first refusal in order answers.
  Mutation: {
    createItem: and(isAuthenticated, mayCreateItem),
    updateItem: mayModifyItem,
    deleteItem: mayModifyItem,
  },
  // Reachable only through the fields above, all of which already require a signed-in caller.
  Item: allow,
  ItemEdge: allow,
  ItemConnection: allow,
};
