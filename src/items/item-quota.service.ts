import { atomically, batched, op } from '../infra/db';
import { accountGone, ConflictError, isDuplicateKeyError, NotFoundError } from '../core/errors';
import { isLiveOrganization } from '../orgs/org.model';
import { UserModel } from '../users/user.model';
import { ItemQuotaModel } from './item-quota.model';
import { itemDeleted } from './item.events';
import { Item, ItemModel } from './item.model';

/*
 * The item cap per holder: a user for their personal items, an organization for its items (not
 * their creators'). A holder's quota document has the holder's id as its _id: user and
 * organization ids are both ObjectIds, so they never collide. A count-then-insert would let
 * parallel creations all see room, so a creation first takes a slot with one conditional
 * increment (`used < max`) and gives it back if the insert fails; deleting an item gives its slot
 * back. Items created this way carry `counted: true`, so a deletion knows whether it held a slot.
 * Items from before the quota are counted once into `legacy` when the holder's quota document is
 * first made, and recounted only when the holder is at the cap, so their deletions free room
 * without a count on every write.
 */

/** Whose slots: a user's (their personal items) or an organization's (its items). */
export interface QuotaHolder {
  kind: 'user' | 'org';
  id: string;
}

export const userHolder = (id: string): QuotaHolder => ({ kind: 'user', id });
export const orgHolder = (id: string): QuotaHolder => ({ kind: 'org', id });

/** The holder of an item's slot: its organization, else its owner. */
export const holderOf = (item: Pick<Item, 'ownerId' | 'orgId'>): QuotaHolder =>
  item.orgId ? orgHolder(item.orgId) : userHolder(item.ownerId);

/**
 * The items a holder's quota counts: a user's personal items (`orgId: null` also matches items
 * stored before organizations, without the field), or all of an organization's, whoever made them.
 */
const itemsOf = (holder: QuotaHolder) =>
  holder.kind === 'user' ? { ownerId: holder.id, orgId: null } : { orgId: holder.id };

/** The refusal when the holder is being (or was) deleted. */
const holderGone = (holder: QuotaHolder) =>
  holder.kind === 'user' ? accountGone() : new NotFoundError('No such organization');

const holderExists = async (holder: QuotaHolder) =>
  holder.kind === 'user' ? await UserModel.exists({ _id: holder.id }) : await isLiveOrganization(holder.id);

const lockKey = (holderId: string) => `itemQuota:${holderId}`;

const countLegacy = (holder: QuotaHolder) =>
  ItemModel.countDocuments({ ...itemsOf(holder), counted: op({ $ne: true }) });

/** Only slots of an open quota can be taken: the holder's deletion closes it first. */
const OPEN = { closed: op({ $ne: true }) };

/**
 * How long a holder's deletion waits for creations that already hold a slot (an insert takes
 * milliseconds); one slower than that finds the quota closed after its insert and undoes it.
 */
const IN_FLIGHT_WAIT_MS = 5_000;
const IN_FLIGHT_POLL_MS = 50;

/** Takes one of the holder's `max` item slots, or refuses with CONFLICT when all are used. */
export async function reserveItemSlot(holder: QuotaHolder, max: number): Promise<void> {
  // A few rounds: a concurrent request may open the quota document or free a slot in between.
  for (let round = 0; round < 3; round++) {
    if (await take(holder.id, max)) return;
    const quota = await ItemQuotaModel.findById(holder.id).lean();
    if (quota?.closed) throw holderGone(holder);
    if (!quota) await open(holder);
    else if (quota.used >= max && !(quota.legacy > 0 && (await recountLegacy(holder, quota.legacy)))) break;
  }
  const message =
    holder.kind === 'user'
      ? `You already have ${max} items, the most one user may keep; delete some to add more`
      : `This organization already has ${max} items, the most one organization may keep; delete some to add more`;
  throw new ConflictError(message, { maxItems: max });
}

/** Gives a slot back: its item was deleted, or its insert failed. */
export async function releaseItemSlot(holder: QuotaHolder): Promise<void> {
  await atomically(lockKey(holder.id), () =>
    ItemQuotaModel.updateOne({ _id: holder.id, used: op({ $gt: 0 }) }, { $inc: { used: -1 } }),
  );
}

/**
 * Takes a slot. Concurrent takes for one holder go as one: n slots at once when all n fit, else
 * one by one (near the cap), so exactly as many succeed as there is room.
 */
async function take(holderId: string, max: number): Promise<boolean> {
  const taken = await batched<boolean | Error>(lockKey(holderId), async (n) => {
    if (n > 1) {
      const all = await ItemQuotaModel.updateOne(
        { _id: holderId, used: op({ $lte: max - n }), ...OPEN },
        { $inc: { used: n } },
      );
      if (all.modifiedCount === 1) return Array<boolean>(n).fill(true);
    }
    // One by one, each caller with its own answer: a write that fails is that caller's error
    // alone, and the slots taken before it stay with callers that go on to use (or release) them.
    const answers: Array<boolean | Error> = [];
    for (let i = 0; i < n; i++) {
      try {
        const res = await ItemQuotaModel.updateOne(
          { _id: holderId, used: op({ $lt: max }), ...OPEN },
          { $inc: { used: 1 } },
        );
        answers.push(res.modifiedCount === 1);
      } catch (err) {
        answers.push(err instanceof Error ? err : new Error(String(err)));
      }
    }
    return answers;
  });
  if (taken instanceof Error) throw taken;
  return taken;
}

/**
 * Makes the holder's quota document. A holder's deletion deletes the user (or organization)
 * before it closes and deletes the quota, so a holder found gone here is being (or was) deleted:
 * refused. A holder deleted between that check and the insert leaves a quota the deletion may
 * already have passed (and items created under it meanwhile): this creation then deletes them.
 */
async function open(holder: QuotaHolder): Promise<void> {
  if (!(await holderExists(holder))) throw holderGone(holder);
  // Counted before the insert: legacy items only ever decrease, so this stays an upper bound.
  const legacy = await countLegacy(holder);
  try {
    await atomically(lockKey(holder.id), () =>
      ItemQuotaModel.updateOne({ _id: holder.id }, { $setOnInsert: { used: legacy, legacy } }, { upsert: true }),
    );
  } catch (err) {
    // A concurrent request opened it first (FerretDB and older MongoDB do not retry that upsert).
    if (!isDuplicateKeyError(err)) throw err;
  }
  if (await holderExists(holder)) return;
  await deleteHolderItems(holder, holder.kind === 'user' ? holder.id : null);
  throw holderGone(holder);
}

/** Lowers the legacy bound to a fresh count, freeing the slots of deleted legacy items. */
async function recountLegacy(holder: QuotaHolder, bound: number): Promise<boolean> {
  const legacy = await countLegacy(holder);
  if (legacy >= bound) return false;
  // Conditional on the bound we read, so two recounts never subtract the same deletions twice.
  await atomically(lockKey(holder.id), () =>
    ItemQuotaModel.updateOne(
      { _id: holder.id, legacy: bound },
      { $inc: { legacy: legacy - bound, used: legacy - bound } },
    ),
  );
  return true;
}

/**
 * Before the holder's items are deleted: closes the quota so that no creation can take a slot
 * any more (they are refused), then waits for creations that took one before to land or give it
 * back, so the deletion that follows sees every item. A slot whose release failed looks in flight
 * for ever: the wait is bounded. Returns whether the quota existed.
 */
async function closeItemQuota(holder: QuotaHolder): Promise<boolean> {
  const before = await atomically(lockKey(holder.id), () =>
    ItemQuotaModel.findOneAndUpdate(
      { _id: holder.id },
      { $set: { closed: true }, $setOnInsert: { used: 0, legacy: 0 } },
      { upsert: true, returnDocument: 'before' },
    ).lean(),
  ).catch((err: unknown) => {
    // Opened by a creation at the same moment (no upsert retry on FerretDB): close it again.
    if (!isDuplicateKeyError(err)) throw err;
    return closeItemQuota(holder).then(() => ({ closed: true }));
  });
  const deadline = Date.now() + IN_FLIGHT_WAIT_MS;
  while ((await creationsInFlight(holder)) > 0 && Date.now() < deadline)
    await new Promise((resolve) => setTimeout(resolve, IN_FLIGHT_POLL_MS));
  return before !== null;
}

/** Slots taken by creations whose insert has not landed yet: taken slots minus counted items. */
async function creationsInFlight(holder: QuotaHolder): Promise<number> {
  // All items less the legacy ones: two counts the holder's index serves (no index on `counted`).
  const [quota, all, legacy] = await Promise.all([
    ItemQuotaModel.findById(holder.id).lean(),
    ItemModel.countDocuments(itemsOf(holder)),
    countLegacy(holder),
  ]);
  return quota ? quota.used - quota.legacy - (all - legacy) : 0;
}

/**
 * The holder's deletion (the user document is gone, or the organization marked as being deleted, already): deletes its items
 * (subscribers get a DELETED event for each) and quota. The quota is closed first and creations
 * holding a slot are waited for, so their items are deleted here too; a creation slower than the
 * wait finds the quota closed or gone after its insert and deletes its own item (undoIfHolderGone)
 * before it answers. Idempotent. Returns how many documents were deleted (a quota made only to
 * be closed does not count).
 */
async function deleteHolderItems(holder: QuotaHolder, actorId: string | null): Promise<number> {
  const hadQuota = await closeItemQuota(holder);
  const items = await ItemModel.find(itemsOf(holder), { ownerId: 1, orgId: 1, category: 1, version: 1 }).lean<Item[]>();
  const removed = (await ItemModel.deleteMany(itemsOf(holder))).deletedCount;
  for (const item of items) itemDeleted(item, actorId);
  const quota = (await ItemQuotaModel.deleteOne({ _id: holder.id })).deletedCount;
  return removed + (hadQuota ? quota : 0);
}

/**
 * Account deletion: the user's personal items and quota. Items they created in organizations
 * belong to those organizations and stay (their `owner` shows the id without a name).
 */
export const deleteItemsOf = (ownerId: string, actorId: string): Promise<number> =>
  deleteHolderItems(userHolder(ownerId), actorId);

/**
 * Organization deletion, called once the organization is marked as being deleted (a creation
 * that finds it live could otherwise open a new quota after this ran): its items and quota.
 */
export const deleteOrganizationItems = (orgId: string, actorId: string): Promise<number> =>
  deleteHolderItems(orgHolder(orgId), actorId);

/**
 * After a creation's insert: if the holder's quota was closed or deleted meanwhile (the holder's
 * deletion no longer waited for it), the item is deleted again and the creation refused, so no
 * item outlives its holder's deletion. The slot goes with the quota.
 */
export async function undoIfHolderGone(holder: QuotaHolder, item: Pick<Item, '_id'>): Promise<void> {
  // One holder's concurrent creations share one read (each joins a read that starts after its insert).
  const open = await batched(`itemQuotaOpen:${holder.id}`, async (n) =>
    Array<boolean>(n).fill((await ItemQuotaModel.exists({ _id: holder.id, ...OPEN })) !== null),
  );
  if (open) return;
  await ItemModel.deleteOne({ _id: item._id });
  throw holderGone(holder);
}
