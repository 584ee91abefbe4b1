import { and, rule, type IRule } from 'graphql-shield';
import type { Context } from '../core/context';
import { ForbiddenError } from '../core/errors';
import { allow, isAuthenticated } from '../http/access.rules';
import { ApiKeyScope } from './apikey.model';

/**
 * Every root field an API key may call, and the scope it needs. Nothing else is open to a key,
 * whatever its owner's role: new fields are refused to keys until they are listed here.
 */
export const API_KEY_SCOPES: Readonly<Record<string, Readonly<Record<string, ApiKeyScope>>>> = {
  Query: { me: ApiKeyScope.ITEMS_READ, item: ApiKeyScope.ITEMS_READ, items: ApiKeyScope.ITEMS_READ },
  Mutation: {
    createItem: ApiKeyScope.ITEMS_WRITE,
    updateItem: ApiKeyScope.ITEMS_WRITE,
    deleteItem: ApiKeyScope.ITEMS_WRITE,
  },
  Subscription: { itemEvents: ApiKeyScope.ITEMS_READ },
};

const ROOT_TYPES = ['Query', 'Mutation', 'Subscription'];

const outOfScope = () => new ForbiddenError('An API key may not do this', { reason: 'API_KEY_SCOPE' });

/** Passes callers without a key, and a key holding `scope` (null: no key may pass). */
function keyMay(scope: ApiKeyScope | null): IRule {
  return rule({ cache: 'contextual' })((_parent, _args, ctx: Context) => {
    const key = ctx.user?.apiKey;
    if (!key) return true;
    return scope !== null && key.scopes.includes(scope) ? true : outOfScope();
  });
}

const gates = new Map<ApiKeyScope | null, IRule>(
  [null, ...Object.values(ApiKeyScope)].map((scope) => [scope, keyMay(scope)]),
);

/**
 * Puts the key check in front of every root field's rule (its refusal comes first, so a key gets
 * API_KEY_SCOPE rather than the field's own answer). A listed field without a rule is a mistake.
 */
export function gateApiKeys(tree: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...tree };
  for (const type of ROOT_TYPES) {
    const fields = tree[type] as Record<string, IRule> | undefined;
    for (const field of Object.keys(API_KEY_SCOPES[type] ?? {}))
      if (!fields?.[field]) throw new Error(`API key scope for ${type}.${field}, which has no permission rule`);
    if (!fields) continue;
    out[type] = Object.fromEntries(
      Object.entries(fields).map(([field, fieldRule]) => [
        field,
        // `and`, not `chain`: graphql-shield's chain and race call util.isUndefined, which Node 23
        // removed. `and` answers with the first refusal in this order, so the gate's still wins.
        and(gates.get(API_KEY_SCOPES[type]?.[field] ?? null)!, fieldRule),
      ]),
    );
  }
  return out;
}

/** `apiKeys(userId:)`: a user lists their own keys; another user's only an admin. */
const ownKeysOrAdmin = rule({ cache: 'strict' })((_parent, args: { userId?: string | null }, ctx: Context) => {
  if (!args.userId || args.userId.toLowerCase() === ctx.user?.id) return true;
  return ctx.user?.role === 'ADMIN' ? true : new ForbiddenError('Administrators only', { reason: 'ADMIN_ONLY' });
});

export const apiKeyPermissions = {
  // `and`, not `chain` (see gateApiKeys): the first refusal in order answers.
  Query: { apiKeys: and(isAuthenticated, ownKeysOrAdmin) },
  Mutation: { createApiKey: isAuthenticated, revokeApiKey: isAuthenticated },
  // Reachable only through the fields above.
  ApiKey: allow,
  CreatedApiKey: allow,
};
