import { z } from 'zod';
import type { AuthUser } from '../core/context';
import type { Config } from '../core/config';
import { atomically, op } from '../infra/db';
import { BadUserInputError, ConflictError, ForbiddenError, NotFoundError } from '../core/errors';
import { decodeCursor, encodeCursor, pageSize, toConnection, type Connection } from '../core/pagination';
import { limitKey } from '../infra/rate-limit';
import { isObjectId, parseInput, parseObjectId } from '../core/validation';
import { releaseItemSlot, reserveItemSlot, undoIfOwnerDeleted } from './item-quota.service';
import { itemChanged, itemDeleted, itemSnapshot } from './item.events';
import { ItemOrderField, OrderDirection, type ItemFilter, type ItemOrder } from './item.inputs';
import { Item, ItemModel } from './item.model';

export const MAX_SEARCH_LENGTH = 100;

// ---------------------------------------------------------------- validation

/** updateItem takes null for the clearable fields only; name and quantity always have a value. */
const notNull = { error: (issue: { input?: unknown }) => (issue.input === null ? 'cannot be null' : undefined) };

const name = z.string(notNull).trim().min(1, 'must not be empty').max(200, 'must be at most 200 characters');
const description = z.string().max(5000, 'must be at most 5000 characters').nullable();
const category = z.string().trim().max(100, 'must be at most 100 characters').nullable();
const tag = z.string().trim().min(1, 'must not be empty').max(50, 'must be at most 50 characters');
const tags = z
  .array(tag)
  .max(20, 'must have at most 20 tags')
  .transform((list) => [...new Set(list.map((t) => t.toLowerCase()))]);
const price = z.number().finite('must be a finite number').min(0, 'must be >= 0').nullable();
const quantity = z.number(notNull).int('must be an integer').min(0, 'must be >= 0');

const createSchema = z.object({
  name,
  description: description.optional(),
  category: category.optional(),
  tags: tags.nullable().optional(),
  price: price.optional(),
  quantity: quantity.nullable().optional(),
});

const updateSchema = z.object({
  name: name.optional(),
  description: description.optional(),
  category: category.optional(),
  tags: tags.nullable().optional(),
  price: price.optional(),
  quantity: quantity.optional(),
});

/** Empty strings mean "none" for the optional text fields. */
const orNull = (value: string | null | undefined) => (value === '' ? null : value);

// ---------------------------------------------------------------- reads

export async function findItem(id: string): Promise<Item | null> {
  parseObjectId(id, 'id');
  return ItemModel.findById(id).lean<Item>();
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

function filterConditions(filter: ItemFilter | null | undefined, caller: AuthUser): Record<string, unknown>[] {
  const conditions: Record<string, unknown>[] = [];
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
  const matchAll = conditions.length === 0 ? {} : conditions.length === 1 ? conditions[0]! : { $and: conditions };
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

// ---------------------------------------------------------------- writes

export type ItemWriteConfig = Pick<Config, 'rateLimit' | 'itemLimits'>;

/** Every createItem, updateItem and deleteItem call counts, aliased fields and refusals included. */
function limitWrites(config: ItemWriteConfig, caller: AuthUser): Promise<void> {
  const { windowSeconds } = config.rateLimit;
  const message = 'Too many item changes, try again later';
  return limitKey(`itemWrite:user:${caller.id}`, config.itemLimits.writesPerWindow, windowSeconds, message);
}

export async function createItem(config: ItemWriteConfig, caller: AuthUser, input: unknown): Promise<Item> {
  await limitWrites(config, caller);
  const v = parseInput(createSchema, input);
  await reserveItemSlot(caller.id, config.itemLimits.maxPerUser);
  let item: Item;
  try {
    const doc = await ItemModel.create({
      name: v.name,
      nameKey: v.name.toLowerCase(),
      description: orNull(v.description) ?? null,
      category: orNull(v.category) ?? null,
      tags: v.tags ?? [],
      price: v.price ?? null,
      priceKey: v.price ?? -1,
      quantity: v.quantity ?? 0,
      version: 1,
      ownerId: caller.id,
      counted: true,
    });
    item = doc.toObject();
  } catch (err) {
    // The client sees the insert's error; a slot that cannot be given back stays taken (the safe side).
    await releaseItemSlot(caller.id).catch(() => undefined);
    throw err;
  }
  // After the insert (the item holds its slot from here on, whatever this check answers).
  await undoIfOwnerDeleted(caller.id, item);
  itemChanged('CREATED', item, caller.id);
  return item;
}

/** Owner or ADMIN. Used by the permission rule; a missing item is left to the resolver (NOT_FOUND). */
export async function canModify(caller: AuthUser, id: string): Promise<boolean> {
  if (caller.role === 'ADMIN') return true;
  if (!isObjectId(id)) return true; // the resolver answers BAD_USER_INPUT
  const item = await ItemModel.findById(id, { ownerId: 1 }).lean<Pick<Item, 'ownerId'>>();
  return !item || item.ownerId === caller.id;
}

export async function updateItem(
  config: ItemWriteConfig,
  caller: AuthUser,
  id: string,
  input: Record<string, unknown>,
  expectedVersion?: number | null,
): Promise<Item> {
  await limitWrites(config, caller);
  parseObjectId(id, 'id');
  const given = Object.fromEntries(Object.entries(input).filter(([, value]) => value !== undefined));
  if (Object.keys(given).length === 0) throw new BadUserInputError('input', 'input must set at least one field');
  const v = parseInput(updateSchema, given);
  const set: Record<string, unknown> = {};
  if (v.name !== undefined) Object.assign(set, { name: v.name, nameKey: v.name.toLowerCase() });
  if (v.description !== undefined) set.description = orNull(v.description);
  if (v.category !== undefined) set.category = orNull(v.category);
  if (v.tags !== undefined) set.tags = v.tags ?? [];
  if (v.price !== undefined) Object.assign(set, { price: v.price, priceKey: v.price ?? -1 });
  if (v.quantity !== undefined) set.quantity = v.quantity;

  if (expectedVersion !== undefined && expectedVersion !== null && !Number.isInteger(expectedVersion)) {
    throw new BadUserInputError('expectedVersion', 'expectedVersion must be an integer');
  }
  // One conditional write: owner (unless admin) and version are part of the filter, so a
  // concurrent update can never be overwritten (no read-then-write).
  const filter: Record<string, unknown> = { _id: id };
  if (caller.role !== 'ADMIN') filter.ownerId = caller.id;
  if (expectedVersion !== undefined && expectedVersion !== null) filter.version = expectedVersion;

  const updated = await atomically(`item:${id}`, () =>
    ItemModel.findOneAndUpdate(filter, { $set: set, $inc: { version: 1 } }, { returnDocument: 'after' }).lean<Item>(),
  );
  if (updated) {
    itemChanged('UPDATED', updated, caller.id);
    return updated;
  }

  const current = await ItemModel.findById(id).lean<Item>();
  if (!current) throw new NotFoundError('No such item');
  if (caller.role !== 'ADMIN' && current.ownerId !== caller.id) throw notOwner('change');
  // The other change, as the API would return it, so a client can show or merge it at once.
  throw new ConflictError('The item was changed by someone else', {
    currentVersion: current.version,
    current: itemSnapshot(current),
  });
}

/** The refusal of updateItem and deleteItem to a caller who is neither the owner nor an admin. */
export const notOwner = (action: 'change' | 'delete') =>
  new ForbiddenError(`Only the owner or an admin may ${action} this item`, { reason: 'NOT_OWNER' });

export async function deleteItem(config: ItemWriteConfig, caller: AuthUser, id: string): Promise<string> {
  await limitWrites(config, caller);
  parseObjectId(id, 'id');
  const filter: Record<string, unknown> = { _id: id };
  if (caller.role !== 'ADMIN') filter.ownerId = caller.id;
  // The deleted document says whose slot to give back; queued with the item's other conditional
  // writes so that, on FerretDB too, only one of two concurrent deletions gets it.
  const deleted = await atomically(`item:${id}`, () =>
    ItemModel.findOneAndDelete(filter).lean<Pick<Item, '_id' | 'ownerId' | 'counted' | 'category' | 'version'>>(),
  );
  if (deleted) {
    itemDeleted(deleted, caller.id);
    if (deleted.counted) await releaseItemSlot(deleted.ownerId);
    return id;
  }
  const exists = await ItemModel.exists({ _id: id });
  if (!exists) throw new NotFoundError('No such item');
  throw notOwner('delete');
}
