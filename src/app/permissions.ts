import type { GraphQLSchema } from 'graphql';
import { middleware, type IMiddlewareGenerator } from 'graphql-middleware';
import { allow, deny, shield } from 'graphql-shield';
import type { IRules } from 'graphql-shield';
import { gateApiKeys, ROOT_TYPES, scopesByField } from '../apikeys/apikey.rules';
import type { FeatureModule } from '../core/module';
import { deniedError, forgetRuleResults } from '../http/access.rules';

type RuleMap = Record<string, unknown>;

/** A type's rules by field (a plain object), as opposed to one rule (a class instance) for the whole type. */
const isFieldMap = (rules: unknown): rules is RuleMap =>
  typeof rules === 'object' && rules !== null && Object.getPrototypeOf(rules) === Object.prototype;

/** Merges the per-feature rule maps; a field defined twice is a programming error. */
export function mergeRules(...maps: RuleMap[]): Record<string, RuleMap | unknown> {
  const out: Record<string, unknown> = {};
  for (const map of maps) {
    for (const [type, rules] of Object.entries(map)) {
      const existing = out[type];
      if (existing === undefined) {
        out[type] = rules;
      } else if (isFieldMap(existing) && typeof rules === 'object') {
        for (const field of Object.keys(rules as RuleMap)) {
          if (field in existing) throw new Error(`permission for ${type}.${field} defined twice`);
        }
        out[type] = { ...existing, ...(rules as RuleMap) };
      } else {
        throw new Error(`permission for ${type} defined twice`);
      }
    }
  }
  return out;
}

/**
 * The permission tree of the modules: every root field also refuses API keys, but for the few the
 * modules' scopes grant (apikey.rules.ts). Deny by default: a field without a rule is refused.
 * Errors thrown by resolvers keep their own codes (allowExternalErrors), and a denial says
 * UNAUTHENTICATED or FORBIDDEN by caller.
 */
export function buildPermissions(modules: readonly FeatureModule[]) {
  const rules = mergeRules(...modules.map((m) => m.rules ?? {}));
  const tree = gateApiKeys(rules, scopesByField(modules.map((m) => m.apiKeyGrants ?? {})));
  const permissions = shield(tree as IRules, {
    fallbackRule: deny,
    allowExternalErrors: true,
    fallbackError: async (_err, _parent, _args, ctx) => deniedError(ctx as never),
  });
  return withoutAllowedFields(permissions, tree);
}

type FieldWrappers = Record<string, Record<string, unknown>>;

/**
 * graphql-shield wraps every field, `allow`ed ones too, and each wrapped field resolves through
 * two more promises (a page of 20 items has about 150 fields). A field whose rule is `allow`
 * itself can never be refused, so its wrapper is dropped: it resolves as type-graphql made it.
 * Every other field keeps its rule, and a field without one still meets the fallback (deny). For
 * `me { id email role }` this saves little; for a page of items it is about a tenth of the CPU.
 */
export function withoutAllowedFields(
  permissions: IMiddlewareGenerator<unknown, unknown, unknown>,
  tree: Record<string, unknown>,
): IMiddlewareGenerator<unknown, unknown, unknown> {
  return middleware((schema) => {
    const wrappers = permissions.generate(schema) as FieldWrappers;
    for (const [type, rules] of Object.entries(tree)) {
      // Root fields always keep theirs (the API-key gate; a subscription's rule runs at its start).
      if (ROOT_TYPES.includes(type)) continue;
      if (rules === allow) delete wrappers[type];
      else if (isFieldMap(rules))
        for (const [field, fieldRule] of Object.entries(rules)) if (fieldRule === allow) delete wrappers[type]?.[field];
    }
    return wrappers as never;
  });
}

/** The root a subscription field's resolver is called with to evaluate its rule up front. */
const RULE_CHECK = Object.freeze({});

/**
 * graphql-middleware wraps a subscription field's `resolve` (run per event), not its
 * `subscribe`: without this, a refused caller would get a live subscription whose every event
 * fails. Here the field's rule also runs when the subscription starts, and a refusal ends it
 * there with the rule's error.
 */
export function guardSubscriptions(schema: GraphQLSchema): GraphQLSchema {
  const type = schema.getSubscriptionType();
  for (const field of Object.values(type?.getFields() ?? {})) {
    const { resolve, subscribe } = field;
    if (!resolve || !subscribe) throw new Error(`subscription field ${field.name} needs resolve and subscribe`);
    field.subscribe = async (root, args, ctx: object, info) => {
      const verdict: unknown = await resolve(RULE_CHECK, args, ctx, info);
      if (verdict instanceof Error) throw verdict;
      forgetRuleResults(ctx);
      return subscribe(root, args, ctx, info);
    };
  }
  return schema;
}
