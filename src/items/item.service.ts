import type { AuthUser, Context } from '../core/context';
import type { Config } from '../core/config';
import { atomically } from '../infra/db';
import { BadUserInputError, ConflictError } from '../core/errors';
import { limitKey } from '../infra/rate-limit';
import { parseInput, parseObjectId } from '../core/validation';
import { keyOrgOf, noSuchItem, writeAccess } from './item.access';
import {
  holderOf,
  orgHolder,
  releaseItemSlot,
  reserveItemSlot,
  undoIfHolderGone,
  userHolder,
} from './item-quota.service';
import { itemChanged, itemDeleted, itemSnapshot } from './item.events';
import { Item, ItemModel } from './item.model';
import { createSchema, orNull, updateSchema } from './item.validation';

type Loaders = Pick<Context, 'loaders'>;

// ---------------------------------------------------------------- writes

export type ItemWriteConfig = Pick<Config, 'rateLimit' | 'itemLimits'>;

/** Every createItem, updateItem and deleteItem call counts, aliased fields and refusals included. */
function limitWrites(config: ItemWriteConfig, caller: AuthUser): Promise<void> {
  const { windowSeconds } = config.rateLimit;
  const message = 'Too many item changes, try again later';
  return limitKey(`itemWrite:user:${caller.id}`, config.itemLimits.writesPerWindow, windowSeconds, message);
}

/**
 * `createItem`: a personal item, or with `orgId` (or through an organization key) one of that
 * organization's; the rule checked the caller is MEMBER or above there. The item takes a slot of
 * its holder's quota: its organization's, else its owner's.
 */
export async function createItem(
  config: ItemWriteConfig,
  caller: AuthUser,
  input: Record<string, unknown> & { orgId?: string | null },
): Promise<Item> {
  await limitWrites(config, caller);
  const { orgId: givenOrg, ...fields } = input;
  const v = parseInput(createSchema, fields);
  const orgId = givenOrg !== undefined && givenOrg !== null ? parseObjectId(givenOrg, 'orgId') : keyOrgOf(caller);
  const holder = orgId ? orgHolder(orgId) : userHolder(caller.id);
  await reserveItemSlot(holder, config.itemLimits.maxPerUser);
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
      orgId,
      counted: true,
    });
    item = doc.toObject();
  } catch (err) {
    // The client sees the insert's error; a slot that cannot be given back stays taken (the safe side).
    await releaseItemSlot(holder).catch(() => undefined);
    throw err;
  }
  // After the insert (the item holds its slot from here on, whatever this check answers).
  await undoIfHolderGone(holder, item);
  itemChanged('CREATED', item, caller.id);
  return item;
}

/** The condition the write carries, or the refusal the rule gave too (same reads, cached for the request). */
async function writeFilter(ctx: Loaders, caller: AuthUser, id: string, action: 'change' | 'delete') {
  const access = await writeAccess(ctx, caller, id, action);
  if ('refusal' in access) throw access.refusal;
  return { _id: id, ...access.filter };
}

export async function updateItem(
  ctx: Loaders,
  config: ItemWriteConfig,
  caller: AuthUser,
  id: string,
  input: Record<string, unknown>,
  expectedVersion?: number | null,
): Promise<Item> {
  await limitWrites(config, caller);
  id = parseObjectId(id, 'id');
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
  // One conditional write: the owner (where only ownership allows the change), the organization
  // and the version are part of the filter, so a concurrent update can never be overwritten.
  const filter: Record<string, unknown> = await writeFilter(ctx, caller, id, 'change');
  if (expectedVersion !== undefined && expectedVersion !== null) filter.version = expectedVersion;

  const updated = await atomically(`item:${id}`, () =>
    ItemModel.findOneAndUpdate(filter, { $set: set, $inc: { version: 1 } }, { returnDocument: 'after' }).lean<Item>(),
  );
  if (updated) {
    itemChanged('UPDATED', updated, caller.id);
    return updated;
  }

  const current = await ItemModel.findById(id).lean<Item>();
  // The owner and organization were checked before the write and never change: the version differs.
  if (!current) throw noSuchItem();
  // The other change, as the API would return it, so a client can show or merge it at once.
  throw new ConflictError('The item was changed by someone else', {
    currentVersion: current.version,
    current: itemSnapshot(current),
  });
}

export async function deleteItem(ctx: Loaders, config: ItemWriteConfig, caller: AuthUser, id: string): Promise<string> {
  await limitWrites(config, caller);
  id = parseObjectId(id, 'id');
  const filter = await writeFilter(ctx, caller, id, 'delete');
  // The deleted document says whose slot to give back; queued with the item's other conditional
  // writes so that, on FerretDB too, only one of two concurrent deletions gets it.
  const deleted = await atomically(`item:${id}`, () =>
    ItemModel.findOneAndDelete(filter).lean<
      Pick<Item, '_id' | 'ownerId' | 'orgId' | 'counted' | 'category' | 'version'>
    >(),
  );
  if (deleted) {
    itemDeleted(deleted, caller.id);
    if (deleted.counted) await releaseItemSlot(holderOf(deleted));
    return id;
  }
  // Only a missing item fails the write: the owner was checked before it and never changes.
  throw noSuchItem();
}
