import type mongoose from 'mongoose';

/**
 * Index coverage: which of the queries the service sends a declared index serves on MongoDB.
 * FerretDB v1 uses no secondary index, so this cannot be measured by timing the suite; instead
 * every query's shape (fields and how each is matched, never values) is checked against the
 * indexes the models declare with the ESR rule: equality fields, then sort fields, then range
 * fields, as a prefix of one index.
 */

/**
 * How a filter matches one field. `ne` ($ne, $nin) excludes a few values: it narrows nothing, so
 * it is checked per document and never needs an index. `regex` is an unanchored or
 * case-insensitive pattern, `other` an operator no index serves.
 */
export type FieldKind = 'eq' | 'in' | 'range' | 'ne' | 'regex' | 'other';

/** A conjunction of field conditions and `$or` groups (each group: any one of its branches). */
export interface FilterShape {
  fields: Record<string, FieldKind>;
  ors: FilterShape[][];
}

export type SortSpec = Array<[string, 1 | -1]>;

export interface QueryShape {
  collection: string;
  /** The command that carried it: find, count, distinct, aggregate, update, delete or findAndModify. */
  command: string;
  filter: FilterShape;
  sort: SortSpec;
}

export interface DeclaredIndex {
  collection: string;
  key: SortSpec;
  unique: boolean;
}

/** The commands whose filters decide whether a query reads an index or the whole collection. */
export const QUERY_COMMANDS = ['find', 'count', 'distinct', 'aggregate', 'update', 'delete', 'findAndModify'] as const;

// ---------------------------------------------------------------- shapes from commands

const RANGE_OPERATORS = new Set(['$gt', '$gte', '$lt', '$lte', '$exists']);
const KIND_STRENGTH: Record<FieldKind, number> = { eq: 5, in: 4, range: 3, ne: 2, regex: 1, other: 0 };

/** Of two conditions on one field in a conjunction, the one an index can use best decides. */
function stronger(a: FieldKind | undefined, b: FieldKind): FieldKind {
  return a !== undefined && KIND_STRENGTH[a] >= KIND_STRENGTH[b] ? a : b;
}

function isOperatorObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value) as unknown;
  if (proto !== Object.prototype && proto !== null) return false;
  const keys = Object.keys(value);
  return keys.length > 0 && keys.every((k) => k.startsWith('$'));
}

/** A regex serves as an index range only when anchored at the start and case-sensitive. */
function regexKind(source: string, flags: string): FieldKind {
  return source.startsWith('^') && !flags.includes('i') ? 'range' : 'regex';
}

export function fieldKind(condition: unknown): FieldKind {
  if (condition instanceof RegExp) return regexKind(condition.source, condition.flags);
  if (!isOperatorObject(condition)) return 'eq';
  let kind: FieldKind | undefined;
  for (const [operator, operand] of Object.entries(condition)) {
    if (operator === '$options') continue;
    if (operator === '$eq' || operator === '$all') kind = stronger(kind, 'eq');
    else if (operator === '$in') kind = stronger(kind, 'in');
    else if (RANGE_OPERATORS.has(operator)) kind = stronger(kind, 'range');
    else if (operator === '$ne' || operator === '$nin') kind = stronger(kind, 'ne');
    else if (operator === '$regex') {
      const source = operand instanceof RegExp ? operand.source : String(operand);
      const flags = (operand instanceof RegExp ? operand.flags : '') + String(condition.$options ?? '');
      kind = stronger(kind, regexKind(source, flags));
    } else kind = stronger(kind, 'other');
  }
  return kind ?? 'other';
}

export function filterShape(filter: unknown): FilterShape {
  const shape: FilterShape = { fields: {}, ors: [] };
  if (filter === null || typeof filter !== 'object') return shape;
  for (const [key, condition] of Object.entries(filter as Record<string, unknown>)) {
    if (key === '$comment') continue;
    if (key === '$and' && Array.isArray(condition)) {
      for (const part of condition.map(filterShape)) {
        for (const [field, kind] of Object.entries(part.fields))
          shape.fields[field] = stronger(shape.fields[field], kind);
        shape.ors.push(...part.ors);
      }
    } else if (key === '$or' && Array.isArray(condition)) {
      shape.ors.push(condition.map(filterShape));
    } else if (key.startsWith('$')) {
      // $nor, $expr, $where, $text: nothing an ordinary index serves.
      shape.fields[key] = 'other';
    } else {
      shape.fields[key] = stronger(shape.fields[key], fieldKind(condition));
    }
  }
  return shape;
}

export function sortSpec(sort: unknown): SortSpec {
  if (sort === null || sort === undefined) return [];
  const entries = sort instanceof Map ? [...(sort as Map<string, unknown>).entries()] : Object.entries(sort);
  return entries
    .filter(([, dir]) => typeof dir !== 'object')
    .map(([field, dir]) => [field, dir === -1 || dir === 'desc' || dir === 'descending' ? -1 : 1]);
}

/** The query shapes one command event carries (an update or delete command may carry several). */
export function commandShapes(commandName: string, command: Record<string, unknown>): QueryShape[] {
  const collection = String(command[commandName]);
  const shape = (filter: unknown, sort: unknown = undefined): QueryShape => ({
    collection,
    command: commandName,
    filter: filterShape(filter),
    sort: sortSpec(sort),
  });
  switch (commandName) {
    case 'find':
      return [shape(command.filter, command.sort)];
    case 'count':
    case 'distinct':
      return [shape(command.query)];
    case 'findAndModify':
      return [shape(command.query, command.sort)];
    case 'update':
      return ((command.updates as Array<{ q: unknown }>) ?? []).map((u) => shape(u.q));
    case 'delete':
      return ((command.deletes as Array<{ q: unknown }>) ?? []).map((d) => shape(d.q));
    case 'aggregate': {
      // The planner uses an index for a leading $match and a $sort right after it (or first).
      const pipeline = (command.pipeline as Array<Record<string, unknown>>) ?? [];
      let i = 0;
      const match = pipeline[i]?.$match;
      if (match !== undefined) i++;
      return [shape(match ?? {}, pipeline[i]?.$sort)];
    }
    default:
      return [];
  }
}

/** A stable text for a shape, to count each one once. */
export function shapeKey(shape: QueryShape): string {
  const filter = (f: FilterShape): unknown => ({
    fields: Object.fromEntries(Object.entries(f.fields).sort(([a], [b]) => a.localeCompare(b))),
    ors: f.ors.map((group) => group.map(filter)),
  });
  return JSON.stringify([shape.collection, shape.command, filter(shape.filter), shape.sort]);
}

// ---------------------------------------------------------------- declared indexes

/** The indexes the compiled schemas declare (`@index`, `@prop({ index/unique })`) plus each collection's unique `_id`. */
export function declaredIndexes(models: Iterable<mongoose.Model<unknown>>): DeclaredIndex[] {
  const out: DeclaredIndex[] = [];
  for (const model of models) {
    const collection = model.collection.collectionName;
    out.push({ collection, key: [['_id', 1]], unique: true });
    for (const [fields, options] of model.schema.indexes()) {
      const key = Object.entries(fields).map(([f, d]): [string, 1 | -1] => [f, d === -1 ? -1 : 1]);
      out.push({ collection, key, unique: Boolean((options as { unique?: boolean }).unique) });
    }
  }
  return out;
}

// ---------------------------------------------------------------- the check

/** One way the query can be answered: a conjunction of field conditions (a branch of its `$or`s). */
export type Branch = Record<string, FieldKind>;

const MAX_BRANCHES = 256;

/** The filter in disjunctive form: the outer conditions go into every `$or` branch, as MongoDB plans them. */
export function branches(filter: FilterShape): Branch[] {
  let out: Branch[] = [{ ...filter.fields }];
  for (const group of filter.ors) {
    const alternatives = group.flatMap(branches);
    const next: Branch[] = [];
    for (const base of out) {
      for (const alt of alternatives) {
        const merged: Branch = { ...base };
        for (const [field, kind] of Object.entries(alt)) merged[field] = stronger(merged[field], kind);
        next.push(merged);
      }
    }
    out = next;
    if (out.length > MAX_BRANCHES) throw new Error(`more than ${MAX_BRANCHES} $or branches`);
  }
  return out;
}

const keyName = (key: SortSpec) => key.map(([f, d]) => `${f}_${d}`).join('_');

function sameSet(fields: string[], wanted: Set<string>): boolean {
  return fields.length === wanted.size && fields.every((f) => wanted.has(f));
}

/**
 * The index that serves one branch under ESR, or undefined. Equality fields must be the index's
 * first fields (any order), then the sort fields not fixed by an equality in order (all in the
 * index's directions or all reversed), then a range field bounds the scan, and any further range
 * fields follow in the index (checked on its keys). `$in` counts as equality when nothing is
 * left to sort, else as a range (it would need a blocking or merge sort). `$ne`/`$nin` narrow
 * nothing and are checked per document. Equality or `$in` on every field of a unique index
 * (`_id` always) is a point lookup whatever else the filter holds.
 */
export function servingIndex(branch: Branch, sort: SortSpec, indexes: DeclaredIndex[]): DeclaredIndex | undefined {
  const point = indexes.find((ix) => ix.unique && ix.key.every(([f]) => branch[f] === 'eq' || branch[f] === 'in'));
  if (point) return point;
  // Unindexable conditions: only a point lookup bounds the documents they are checked against.
  if (Object.values(branch).some((k) => k === 'regex' || k === 'other')) return undefined;
  const eqOnly = new Set(Object.keys(branch).filter((f) => branch[f] === 'eq'));
  const inAsEq = sort.every(([f]) => eqOnly.has(f));
  const equality = new Set(Object.keys(branch).filter((f) => branch[f] === 'eq' || (inAsEq && branch[f] === 'in')));
  const sortRest = sort.filter(([f]) => !equality.has(f));
  const sorted = new Set(sortRest.map(([f]) => f));
  const range = new Set(Object.keys(branch).filter((f) => !equality.has(f) && !sorted.has(f) && branch[f] !== 'ne'));
  // No condition and no order: the whole collection, whichever index exists.
  if (equality.size === 0 && sortRest.length === 0 && range.size === 0) return undefined;
  return indexes.find((ix) => {
    const fields = ix.key.map(([f]) => f);
    if (!sameSet(fields.slice(0, equality.size), equality)) return false;
    let at = equality.size;
    const part = ix.key.slice(at, at + sortRest.length);
    if (part.length !== sortRest.length || part.some(([f], i) => f !== sortRest[i]![0])) return false;
    const forward = part.every(([, d], i) => d === sortRest[i]![1]);
    const backward = part.every(([, d], i) => d === -sortRest[i]![1]);
    if (!forward && !backward) return false;
    at += sortRest.length;
    if (range.size === 0) return true;
    const rest = fields.slice(at);
    return range.has(rest[0]!) && [...range].every((f) => rest.includes(f));
  });
}

/**
 * A query no index can fully serve, accepted with the reason (listed in INDEX_COVERAGE_EXCEPTIONS,
 * priced in docs/performance.md).
 */
export interface CoverageException {
  collection: string;
  /** Why it is accepted and what it costs on MongoDB at scale. */
  reason: string;
  /**
   * Fields that may be matched per document instead of by the index (e.g. a case-insensitive
   * substring search). The rest of each branch must still be served by an index.
   */
  residual?: string[];
  /** The index may bound the filter while the documents it selects are sorted in memory. */
  sortInMemory?: boolean;
  /** A filterless read of the whole collection by this command (e.g. the total of an unfiltered list). */
  unfiltered?: string;
}

function subsets<T>(items: T[]): T[][] {
  const out: T[][] = [[]];
  for (const item of items) for (const s of [...out]) out.push([...s, item]);
  return out.sort((a, b) => a.length - b.length);
}

/** The index that serves a branch once the exception's leeway is taken, fewest residual fields first. */
function servingWithException(
  branch: Branch,
  sort: SortSpec,
  indexes: DeclaredIndex[],
  exception: CoverageException,
  command: string,
): string | undefined {
  // An exception is about its fields: a branch without any of them gets no leeway.
  const allowed = Object.keys(branch).filter((f) => exception.residual?.includes(f));
  if (allowed.length === 0) return undefined;
  for (const drop of subsets(allowed)) {
    if (drop.length === 0 && !exception.sortInMemory) continue;
    const rest = Object.fromEntries(Object.entries(branch).filter(([f]) => !drop.includes(f)));
    const sorts = [sort.filter(([f]) => !drop.includes(f)), ...(exception.sortInMemory ? [[]] : [])];
    for (const s of sorts) {
      const index = servingIndex(rest, s, indexes);
      if (index) return keyName(index.key);
      // Nothing left for an index to bound: a scan, accepted only where the exception says so.
      if (Object.keys(rest).length === 0 && s.length === 0 && exception.unfiltered === command)
        return 'collection scan';
    }
  }
  return undefined;
}

export interface BranchVerdict {
  branch: Branch;
  index?: string;
  exception?: string;
}

export interface ShapeVerdict {
  shape: QueryShape;
  covered: boolean;
  branches: BranchVerdict[];
}

function isUnfiltered(shape: QueryShape): boolean {
  return shape.sort.length === 0 && Object.keys(shape.filter.fields).length === 0 && shape.filter.ors.length === 0;
}

export function checkShape(
  shape: QueryShape,
  indexes: DeclaredIndex[],
  exceptions: CoverageException[] = [],
): ShapeVerdict {
  const own = indexes.filter((ix) => ix.collection === shape.collection);
  const applicable = exceptions.filter((e) => e.collection === shape.collection);
  if (isUnfiltered(shape)) {
    // A count without a query is answered from the collection's metadata.
    if (shape.command === 'count') return { shape, covered: true, branches: [{ branch: {}, index: 'metadata' }] };
    const exception = applicable.find((e) => e.unfiltered === shape.command);
    return { shape, covered: Boolean(exception), branches: [{ branch: {}, exception: exception?.reason }] };
  }
  const verdicts = branches(shape.filter).map((branch): BranchVerdict => {
    const index = servingIndex(branch, shape.sort, own);
    if (index) return { branch, index: keyName(index.key) };
    // Each exception alone, then all of them together (a search on top of a category filter).
    const merged: CoverageException = {
      collection: shape.collection,
      reason: applicable.map((e) => e.reason).join('; '),
      unfiltered: applicable.find((e) => e.unfiltered === shape.command)?.unfiltered,
      residual: applicable.flatMap((e) => e.residual ?? []),
      sortInMemory: applicable.some((e) => e.sortInMemory),
    };
    for (const exception of applicable.length > 1 ? [...applicable, merged] : applicable) {
      const index = servingWithException(branch, shape.sort, own, exception, shape.command);
      if (index) return { branch, index, exception: exception.reason };
    }
    return { branch };
  });
  return { shape, covered: verdicts.every((v) => v.index !== undefined), branches: verdicts };
}

export function describeShape(shape: QueryShape): string {
  const filter = (f: FilterShape): string => {
    const parts = Object.entries(f.fields).map(([field, kind]) => `${field}:${kind}`);
    for (const group of f.ors) parts.push(`$or[${group.map(filter).join(' | ')}]`);
    return `{${parts.join(', ')}}`;
  };
  const sort = shape.sort.length ? ` sort {${shape.sort.map(([f, d]) => `${f}:${d}`).join(', ')}}` : '';
  return `${shape.command} ${shape.collection} ${filter(shape.filter)}${sort}`;
}

/** A readable list of the shapes no index serves, with the branches that lack one. */
export function uncoveredReport(verdicts: ShapeVerdict[], origins?: Map<string, string[]>): string {
  return verdicts
    .filter((v) => !v.covered)
    .map((v) => {
      const missing = v.branches
        .filter((b) => !b.index)
        .map(
          (b) =>
            `    no index for branch {${Object.entries(b.branch)
              .map(([f, k]) => `${f}:${k}`)
              .join(', ')}}`,
        );
      const from = origins?.get(shapeKey(v.shape));
      return [`  ${describeShape(v.shape)}`, ...missing, ...(from ? [`    sent by: ${from.join(', ')}`] : [])].join(
        '\n',
      );
    })
    .join('\n');
}

// ---------------------------------------------------------------- accepted exceptions

/**
 * The queries no index can serve, with why they are accepted. docs/performance.md says what
 * they cost at scale.
 */
export const INDEX_COVERAGE_EXCEPTIONS: CoverageException[] = [
  {
    collection: 'items',
    residual: ['name', 'description'],
    reason:
      'search is a case-insensitive substring match (no text index on FerretDB): each item the rest of the ' +
      "filter's index selects is matched in turn, up to the owner's or category's items, or all the personal " +
      "items (or one organization's) in order",
  },
  {
    collection: 'items',
    residual: ['category', 'tags'],
    sortInMemory: true,
    reason:
      'category and tags have an index (after orgId) only with the default order and only as the sole filter (an index per ' +
      'combination would cost every item write): with an owner the owner index bounds the read and they are ' +
      "checked per item; in another order the category's (or tag's) items are sorted in memory",
  },
  {
    collection: 'users',
    unfiltered: 'aggregate',
    reason: "totalCount of the admins' user list counts every user (admin-only, one scan per page that asks for it)",
  },
  {
    collection: 'audit_events',
    residual: ['type'],
    reason: "one user's events of one type: read through the userId index in order, the type checked per event",
  },
];
