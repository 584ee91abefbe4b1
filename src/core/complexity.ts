import { HeaderMap, type ApolloServerPlugin, type BaseContext } from '@apollo/server';
import {
  getVariableValues,
  GraphQLError,
  type DocumentNode,
  type GraphQLSchema,
  type OperationDefinitionNode,
} from 'graphql';
import { getComplexity, simpleEstimator, type ComplexityEstimator } from 'graphql-query-complexity';
import { DEFAULT_PAGE_SIZE } from './pagination';

/**
 * Any field with a `first` argument returns up to `first` of its children, so their cost counts
 * `first` times: `first` as the request gives it (literal or variable), the default page size
 * when omitted. Generic, so every connection field is costed without being listed here. Values
 * over the page maximum are not capped: the field refuses them anyway, and a cap would undercount
 * a future field that allows more.
 */
export const pagedEstimator: ComplexityEstimator = ({ field, args, childComplexity }) => {
  if (!field.args.some((arg) => arg.name === 'first')) return undefined;
  const first = typeof args.first === 'number' ? Math.max(args.first, 0) : DEFAULT_PAGE_SIZE;
  return 1 + childComplexity * first;
};

/** Every other field costs 1 plus its children. */
const ESTIMATORS = [pagedEstimator, simpleEstimator({ defaultComplexity: 1 })];

/**
 * Fragments are walked once per spread, so a small document can expand enormously: the walk
 * stops after this many selections (the operation is then refused as too costly).
 */
const MAX_EVALUATED_NODES = 10_000;

function tooCostly(message: string): GraphQLError {
  // Thrown from didResolveOperation, an error is a 500 unless it sets its status; a cost
  // refusal is the client's fault, like the other armor limits.
  return new GraphQLError(message, {
    extensions: { code: 'GRAPHQL_VALIDATION_FAILED', http: { status: 400, headers: new HeaderMap() } },
  });
}

/**
 * The refusal of an operation whose cost, computed with its variables, exceeds `maxCost`, or
 * null. Shared by HTTP (costLimitPlugin) and WebSocket subscriptions.
 */
export function costRefusal(
  schema: GraphQLSchema,
  document: DocumentNode,
  operation: OperationDefinitionNode,
  variables: Record<string, unknown>,
  maxCost: number,
): GraphQLError | null {
  const cost = costOf(schema, document, operation, variables);
  if (cost === null) return null;
  if (cost === TOO_LARGE)
    return tooCostly(`Query too large to cost: over ${MAX_EVALUATED_NODES} selections with fragments expanded`);
  return cost > maxCost ? tooCostly(`Query cost limit of ${maxCost} exceeded, found ${cost}`) : null;
}

const TOO_LARGE = -1;

/**
 * Costs of operations without variables, per parsed document (Apollo hands the same document
 * object for the same query text), so a repeated operation is walked once. An operation with
 * variables is costed on every request: its cost depends on them.
 */
const fixedCosts = new WeakMap<DocumentNode, Map<OperationDefinitionNode, number>>();

/** The operation's cost, TOO_LARGE, or null when its variables are invalid. */
function costOf(
  schema: GraphQLSchema,
  document: DocumentNode,
  operation: OperationDefinitionNode,
  variables: Record<string, unknown>,
): number | null {
  const fixed = !operation.variableDefinitions?.length;
  const known = fixed ? fixedCosts.get(document)?.get(operation) : undefined;
  if (known !== undefined) return known;
  // Invalid variables fail in execution with BAD_USER_INPUT before any resolver runs.
  if (!fixed && getVariableValues(schema, operation.variableDefinitions ?? [], variables).errors) return null;
  let cost: number;
  try {
    cost = getComplexity({
      schema,
      query: document,
      variables,
      operationName: operation.name?.value,
      estimators: ESTIMATORS,
      maxQueryNodes: MAX_EVALUATED_NODES,
    });
  } catch {
    cost = TOO_LARGE;
  }
  if (fixed) {
    let costs = fixedCosts.get(document);
    if (!costs) fixedCosts.set(document, (costs = new Map()));
    costs.set(operation, cost);
  }
  return cost;
}

/**
 * Refuses operations whose cost, computed with the request's variables, exceeds `maxCost`. It
 * runs after validation (a validation rule never sees variables, so `items(first: $f)` would
 * be costed as if `first` were omitted).
 */
export function costLimitPlugin<T extends BaseContext>(maxCost: number): ApolloServerPlugin<T> {
  return {
    async requestDidStart() {
      return {
        async didResolveOperation({ schema, document, operation, request }) {
          // No operation (none named as asked): execution refuses the request without running any.
          if (!operation) return;
          const refusal = costRefusal(schema, document, operation, request.variables ?? {}, maxCost);
          if (refusal) throw refusal;
        },
      };
    },
  };
}
