import { HeaderMap, type ApolloServerPlugin, type BaseContext } from '@apollo/server';
import {
  getDirectiveValues,
  getNamedType,
  getVariableValues,
  GraphQLError,
  GraphQLIncludeDirective,
  GraphQLSkipDirective,
  isInterfaceType,
  isObjectType,
  Kind,
  type DocumentNode,
  type FragmentDefinitionNode,
  type GraphQLNamedType,
  type GraphQLSchema,
  type OperationDefinitionNode,
  type SelectionSetNode,
} from 'graphql';
import { getComplexity, simpleEstimator, type ComplexityEstimator } from 'graphql-query-complexity';
import { DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE } from '../core/pagination';

/** A connection's count of every match: one field, charged by the connection (see pagedEstimator). */
const COUNT_FIELD = 'totalCount';

/** What the estimators need beyond their own arguments: the schema, fragments and variables of the walk. */
interface CostWalk {
  schema: GraphQLSchema;
  fragments: ReadonlyMap<string, FragmentDefinitionNode>;
  /** The coerced variable values (for @skip and @include). */
  variables: Record<string, unknown>;
}

interface SchemaCosts {
  /** The types returned by a field with `first`: their totalCount is charged by that field. */
  connections: ReadonlySet<string>;
  /** Full-page costs by connection type, computed on first use. */
  fullPages: Map<string, number>;
}

const schemaCosts = new WeakMap<GraphQLSchema, SchemaCosts>();

function costsOf(schema: GraphQLSchema): SchemaCosts {
  let costs = schemaCosts.get(schema);
  if (!costs) {
    const connections = new Set<string>();
    for (const type of Object.values(schema.getTypeMap()))
      if (isObjectType(type) || isInterfaceType(type))
        for (const field of Object.values(type.getFields()))
          if (field.args.some((arg) => arg.name === 'first')) connections.add(getNamedType(field.type).name);
    schemaCosts.set(schema, (costs = { connections, fullPages: new Map() }));
  }
  return costs;
}

/** An object with an id of its own: another entity a node refers to (an item's owner or organization). */
function isEntity(type: GraphQLNamedType): boolean {
  return (isObjectType(type) || isInterfaceType(type)) && 'id' in type.getFields();
}

/**
 * What selecting every field of `type` costs, 1 per field plus its children, objects expanded to
 * their leaves. Left out: totalCount (charged apart), fields with arguments (a nested connection
 * is not part of one node), and a type already on the path (no cycles). Inside a node (the
 * connection, its edge and its node are on the path), a reference to another entity counts as
 * one field: it is read once per page by a loader, not per document scanned, and its own fields
 * are charged where a page selects them (so a field added to Organization does not make a scan
 * of items dearer).
 */
function everyFieldCost(type: GraphQLNamedType, path: ReadonlySet<string>): number {
  if (!isObjectType(type) && !isInterfaceType(type)) return 0;
  let cost = 0;
  for (const field of Object.values(type.getFields())) {
    const named = getNamedType(field.type);
    if (field.name === COUNT_FIELD || field.args.length > 0 || path.has(named.name)) continue;
    const reference = path.size >= 3 && isEntity(named);
    cost += 1 + (reference ? 0 : everyFieldCost(named, new Set([...path, named.name])));
  }
  return cost;
}

/**
 * The cost of a full page of `connection`: `first: 100` with every field selected, as the pages
 * themselves are costed (1 + 100 × the selection), references counted as one field each. For
 * ItemConnection, 1 + 100 × 20 = 2001 (the page of the committed Items operation, which also
 * selects its owner's fields, costs 2101).
 */
function fullPageCost(schema: GraphQLSchema, connection: GraphQLNamedType): number {
  const { fullPages } = costsOf(schema);
  let cost = fullPages.get(connection.name);
  if (cost === undefined) {
    cost = 1 + MAX_PAGE_SIZE * everyFieldCost(connection, new Set([connection.name]));
    fullPages.set(connection.name, cost);
  }
  return cost;
}

/** Whether a selection is kept under its @skip and @include directives. */
function included(node: Parameters<typeof getDirectiveValues>[1], variables: Record<string, unknown>): boolean {
  return (
    getDirectiveValues(GraphQLSkipDirective, node, variables)?.if !== true &&
    getDirectiveValues(GraphQLIncludeDirective, node, variables)?.if !== false
  );
}

/** Whether `set` selects `name` directly (fragments included, @skip and @include honoured). */
function selects(set: SelectionSetNode | undefined, name: string, walk: CostWalk, seen = new Set<string>()): boolean {
  return (set?.selections ?? []).some((sel) => {
    if (!included(sel, walk.variables)) return false;
    if (sel.kind === Kind.FIELD) return sel.name.value === name;
    if (sel.kind === Kind.INLINE_FRAGMENT) return selects(sel.selectionSet, name, walk, seen);
    if (seen.has(sel.name.value)) return false;
    seen.add(sel.name.value);
    return selects(walk.fragments.get(sel.name.value)?.selectionSet, name, walk, seen);
  });
}

/** A non-blank `filter.search`: a text search reads every candidate document (no index serves it). */
function searches(args: Record<string, unknown>): boolean {
  const search = (args.filter as { search?: unknown } | null | undefined)?.search;
  return typeof search === 'string' && search.trim() !== '';
}

/**
 * Any field with a `first` argument returns up to `first` of its children, so their cost counts
 * `first` times: `first` as the request gives it (literal or variable), the default page size
 * when omitted. Generic, so every connection field is costed without being listed here. Values
 * over the page maximum are not capped: the field refuses them anyway, and a cap would undercount
 * a future field that allows more.
 *
 * Two things cost the database a read of every match whatever `first` is, each at least a full
 * page of the connection (fullPageCost), so `first: 0` no longer makes them free: selecting
 * totalCount adds a full page (the count is a query of its own), and a non-blank `filter.search`
 * raises the page to at least a full one (no index serves the search: the page's own query scans
 * for its matches, so a page of 100 with a search is still one scan, not two).
 */
export const pagedEstimator: ComplexityEstimator = ({ field, args, childComplexity, node, context }) => {
  if (!field.args.some((arg) => arg.name === 'first')) return undefined;
  const first = typeof args.first === 'number' ? Math.max(args.first, 0) : DEFAULT_PAGE_SIZE;
  const walk = context as CostWalk;
  const fullPage = fullPageCost(walk.schema, getNamedType(field.type));
  const count = selects(node.selectionSet, COUNT_FIELD, walk) ? fullPage : 0;
  const page = 1 + childComplexity * first;
  return (searches(args) ? Math.max(page, fullPage) : page) + count;
};

/** totalCount on a connection costs nothing where it stands: its connection field charges it once. */
const countEstimator: ComplexityEstimator = ({ field, type, context }) =>
  field.name === COUNT_FIELD && costsOf((context as CostWalk).schema).connections.has(type.name) ? 0 : undefined;

/**
 * `__typename` costs nothing: it is answered from the schema, and Apollo Client (and codegen)
 * add it to every selection, so a page costs the same however the client sends it.
 */
const typenameEstimator: ComplexityEstimator = ({ field }) => (field.name === '__typename' ? 0 : undefined);

/** Every other field costs 1 plus its children. */
const ESTIMATORS = [typenameEstimator, countEstimator, pagedEstimator, simpleEstimator({ defaultComplexity: 1 })];

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
  let coerced: Record<string, unknown> = {};
  if (!fixed) {
    const values = getVariableValues(schema, operation.variableDefinitions ?? [], variables);
    // Invalid variables fail in execution with BAD_USER_INPUT before any resolver runs.
    if (values.errors) return null;
    coerced = values.coerced;
  }
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const def of document.definitions) if (def.kind === Kind.FRAGMENT_DEFINITION) fragments.set(def.name.value, def);
  const walk: CostWalk = { schema, fragments, variables: coerced };
  let cost: number;
  try {
    cost = getComplexity({
      schema,
      query: document,
      variables,
      operationName: operation.name?.value,
      estimators: ESTIMATORS,
      maxQueryNodes: MAX_EVALUATED_NODES,
      context: walk as unknown as Record<string, unknown>,
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
