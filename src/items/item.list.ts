import { z } from 'zod';
import type { AuthUser, Context } from '../core/context';
import { op } from '../infra/db';
import { BadUserInputError } from '../core/errors';
import { decodeCursor, encodeCursor, pageSize, toConnection, type Connection } from '../core/pagination';
import { isObjectId, parseInput, parseObjectId } from '../core/validation';
import { keyOrgOf, maySee } from './item.access';
import { ItemOrderField, OrderDirection, type ItemFilter, type ItemOrder } from './item.inputs';
import { Item, ItemModel } from './item.model';
import { tags } from './item.validation';

export const MAX_SEARCH_LENGTH = 100;

// ---------------------------------------------------------------- reads

/** `item(id)`: null when it does not exist or, an organization's item, the caller may not see it. */
export async function findItem(ctx: Pick<Context, 'loaders'>, caller: AuthUser, id: string): Promise<Item | null> {
  parseObjectId(id, 'id');
  const item = await ItemModel.findById(id).lean<Item>();
  return item && (await maySee(ctx, caller, item)) ? item : null;
}

interface OrderSpec {
  key: 'createdAt' | 'updatedAt' | 'nameKey' | 'priceKey';
  direction: 1 | -1;
}

const ORDER_KEYS: Record<ItemOrderField, OrderSpec['key']> = {
  [ItemOrderField.CREATED_AT]: 'createdAt',
  [ItemOrderField.UPDATED_AT]: 'updatedAt',
  [ItemOrderField.NAME]: 'nameKey',
  [ItemOrderField.PRICE]: 'priceKey',
};

function orderSpec(order: ItemOrder | null | undefined): OrderSpec {
  if (!order) return { key: 'createdAt', direction: -1 };
  return { key: ORDER_KEYS[order.field], direction: order.direction === OrderDirection.ASC ? 1 : -1 };
}

/** Cursor values: [order key value, id]; dates travel as epoch milliseconds. */
function cursorOf(item: Item, spec: OrderSpec): string {
  const value = item[spec.key];
  return encodeCursor([value instanceof Date ? value.getTime() : value, String(item._id)]);
}

function afterCondition(after: string, spec: OrderSpec): Record<string, unknown> {
  const isDate = spec.key === 'createdAt' || spec.key === 'updatedAt';
  // A value the key can never hold (a string for a number; for a date, anything beyond the
  // ±8.64e15 ms a Date can hold, such as 1e300) is a bad cursor, not a cast error in the query.
  const validKey = (v: unknown) =>
    spec.key === 'nameKey'
      ? typeof v === 'string'
      : typeof v === 'number' && (isDate ? !Number.isNaN(new Date(v).getTime()) : Number.isFinite(v));
  const [raw, id] = decodeCursor(
    after,
    (v) => v.length === 2 && typeof v[1] === 'string' && isObjectId(v[1]) && validKey(v[0]),
  ) as [string | number, string];
  const value = isDate ? new Date(raw) : raw;
  const cmp = spec.direction === 1 ? '$gt' : '$lt';
  // Strictly after (value, id) in the sort order: a total order, so no item repeats or is skipped.
  return {
    $or: [{ [spec.key]: op({ [cmp]: value }) }, { [spec.key]: value, _id: op({ [cmp]: id }) }],
  };
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * Which items a list is about: one organization's (the filter's, else an organization key's own;
 * the rule checked the caller may see it), else personal ones. Always an equality on orgId, so
 * every list is served by an index that starts with it (null also matches items without the field).
 */
function scopeCondition(filter: ItemFilter | null | undefined, caller: AuthUser): Record<string, unknown> {
  const given = filter?.orgId;
  if (given !== undefined && given !== null) return { orgId: parseObjectId(given, 'orgId') };
  return { orgId: keyOrgOf(caller) };
}

function filterConditions(filter: ItemFilter | null | undefined, caller: AuthUser): Record<string, unknown>[] {
  const conditions: Record<string, unknown>[] = [scopeCondition(filter, caller)];
  if (!filter) return conditions;
  if (filter.ownerId !== undefined && filter.ownerId !== null) {
    parseObjectId(filter.ownerId, 'ownerId');
    conditions.push({ ownerId: filter.ownerId.toLowerCase() });
  }
  if (filter.mine) conditions.push({ ownerId: caller.id });
  if (filter.category !== undefined && filter.category !== null) conditions.push({ category: filter.category.trim() });
  if (filter.tags?.length) {
    const wanted = parseInput(z.object({ tags }), { tags: filter.tags }).tags;
    conditions.push({ tags: op({ $all: wanted }) });
  }
  if (filter.search !== undefined && filter.search !== null && filter.search.trim() !== '') {
    const text = filter.search.trim();
    if (text.length > MAX_SEARCH_LENGTH) {
      throw new BadUserInputError('search', `search must be at most ${MAX_SEARCH_LENGTH} characters`);
    }
    const pattern = op({ $regex: escapeRegExp(text), $options: 'i' });
    conditions.push({ $or: [{ name: pattern }, { description: pattern }] });
  }
  return conditions;
}

/** Fields a list needs: everything public plus the keys cursors are made of. */
const LIST_PROJECTION = {
  name: 1,
  nameKey: 1,
  description: 1,
  category: 1,
  tags: 1,
  price: 1,
  priceKey: 1,
  quantity: 1,
  version: 1,
  ownerId: 1,
  orgId: 1,
  createdAt: 1,
  updatedAt: 1,
};

export async function listItems(
  caller: AuthUser,
  args: { filter?: ItemFilter | null; orderBy?: ItemOrder | null; first?: number | null; after?: string | null },
  options: { count?: boolean } = {},
): Promise<Connection<Item>> {
  const limit = pageSize(args.first);
  const spec = orderSpec(args.orderBy);
  const conditions = filterConditions(args.filter, caller);
  const matchAll = conditions.length === 1 ? conditions[0]! : { $and: conditions };
  const pageFilter = args.after ? { $and: [...conditions, afterCondition(args.after, spec)] } : matchAll;

  const [rows, totalCount] = await Promise.all([
    limit === 0
      ? Promise.resolve([] as Item[])
      : ItemModel.find(pageFilter, LIST_PROJECTION)
          .sort({ [spec.key]: spec.direction, _id: spec.direction })
          .limit(limit + 1)
          .lean<Item[]>(),
    options.count === false ? Promise.resolve(-1) : ItemModel.countDocuments(matchAll),
  ]);
  return toConnection(rows, limit, totalCount, Boolean(args.after), (item) => cursorOf(item, spec));
}
