import { shield, deny } from 'graphql-shield';
import type { IRules } from 'graphql-shield';
import { accountPermissions } from '../account/account.rules';
import { auditPermissions } from '../audit/audit.rules';
import { authPermissions } from '../auth/auth.rules';
import { itemPermissions } from '../items/item.rules';
import { userPermissions } from '../users/user.rules';
import { deniedError } from './rules';

type RuleMap = Record<string, unknown>;

/** Merges the per-feature rule maps; a field defined twice is a programming error. */
export function mergeRules(...maps: RuleMap[]): Record<string, RuleMap | unknown> {
  const out: Record<string, unknown> = {};
  for (const map of maps) {
    for (const [type, rules] of Object.entries(map)) {
      const existing = out[type];
      if (existing === undefined) {
        out[type] = rules;
      } else if (typeof existing === 'object' && typeof rules === 'object' && !('resolve' in (existing as object))) {
        for (const field of Object.keys(rules as RuleMap)) {
          if (field in (existing as RuleMap)) throw new Error(`permission for ${type}.${field} defined twice`);
        }
        out[type] = { ...(existing as RuleMap), ...(rules as RuleMap) };
      } else {
        throw new Error(`permission for ${type} defined twice`);
      }
    }
  }
  return out;
}

export const ruleTree = mergeRules(
  authPermissions,
  userPermissions,
  itemPermissions,
  auditPermissions,
  accountPermissions,
);

/**
 * Deny by default: a field without a rule is refused. Errors thrown by resolvers keep their
 * own codes (allowExternalErrors), and a denial says UNAUTHENTICATED or FORBIDDEN by caller.
 */
export const permissions = shield(ruleTree as IRules, {
  fallbackRule: deny,
  allowExternalErrors: true,
  fallbackError: async (_err, _parent, _args, ctx) => deniedError(ctx as never),
});
