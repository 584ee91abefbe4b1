import { and, rule, type IRule } from 'graphql-shield';
import type { Context } from '../core/context';
import { ForbiddenError } from '../core/errors';
import type { ApiKeyGrants } from '../core/module';
import { allow, isAuthenticated } from '../http/access.rules';
import { ApiKeyScope } from './apikey.model';

/** The root types: every field of theirs gets the API-key gate. */
export const ROOT_TYPES: readonly string[] = ['Query', 'Mutation', 'Subscription'];

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

/** Each root field an API key may call and the scope it needs: root type → field → scope. */
export type ScopeByField = Readonly<Record<string, Readonly<Record<string, ApiKeyScope>>>>;

const SCOPES: ReadonlySet<string> = new Set(Object.values(ApiKeyScope));

/**
 * Turns the modules' grants (scope → root type → fields) around into the scope each field needs.
 * Nothing else is open to a key, whatever its owner's role: a new field is refused to keys until
 * a module grants it. A scope that does not exist or a field granted twice is a mistake.
 */
export function scopesByField(grants: readonly ApiKeyGrants[]): ScopeByField {
  const out: Record<string, Record<string, ApiKeyScope>> = {};
  for (const [scope, types] of grants.flatMap((g) => Object.entries(g))) {
    if (!SCOPES.has(scope)) throw new Error(`API key grant for unknown scope ${scope}`);
    for (const [type, fields] of Object.entries(types)) {
      const byField = (out[type] ??= {});
      for (const field of fields ?? []) {
        if (byField[field]) throw new Error(`API key scope for ${type}.${field} granted twice`);
        byField[field] = scope as ApiKeyScope;
      }
    }
  }
  return out;
}

/**
 * Puts the key check in front of every root field's rule (its refusal comes first, so a key gets
 * API_KEY_SCOPE rather than the field's own answer). A granted field without a rule is a mistake.
 */
export function gateApiKeys(tree: Record<string, unknown>, scopes: ScopeByField): Record<string, unknown> {
  const out: Record<string, unknown> = { ...tree };
  for (const type of ROOT_TYPES) {
    const fields = tree[type] as Record<string, IRule> | undefined;
    for (const field of Object.keys(scopes[type] ?? {}))
      if (!fields?.[field]) throw new Error(`API key scope for ${type}.${field}, which has no permission rule`);
    if (!fields) continue;
    out[type] = Object.fromEntries(
      Object.entries(fields).map(([field, fieldRule]) => {
        const gate = gates.get(scopes[type]?.[field] ?? null)!;
        // `and`, not `chain`: graphql-shield's chain and race call util.isUndefined, which Node 23
        // removed. `and` answers with the first refusal in this order, so the gate's still wins.
        // The gate and `allow` is the gate: one rule to evaluate instead of three.
        return [field, Object.is(fieldRule, allow) ? gate : and(gate, fieldRule)];
      }),
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
