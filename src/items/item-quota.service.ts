import { atomically, batched, op } from '../infra/db';
import { accountGone, ConflictError, isDuplicateKeyError } from '../core/errors';
import { UserModel } from '../users/user.model';
import { ItemQuotaModel } from './item-quota.model';
import { itemDeleted } from './item.events';
import { Item, ItemModel } from './item.model';

/*
 * The per-owner item cap. A count-then-insert would let parallel creations all see room, so a
 * creation first takes a slot with one conditional increment (`used < max`) and gives it back if
 * the insert fails; deleting an item gives its slot back. Items created this way carry
 * `counted: true`, so a deletion knows whether it held a slot. Items from before the quota are
 * counted once into `legacy` when the owner's quota document is first made, and recounted only
 * when the owner is at the cap, so their deletions free room without a count on every write.
 */

const lockKey = (ownerId: string) => `itemQuota:${ownerId}`;

const countLegacy = (ownerId: string) => ItemModel.countDocuments({ ownerId, counted: op({ $ne: true }) });

/** Only slots of an open quota can be taken: account deletion closes it first. */
const OPEN = { closed: op({ $ne: true }) };

/**
 * How long account deletion waits for creations that already hold a slot (an insert takes
 * milliseconds); one slower than that finds the quota closed after its insert and undoes it.
 */
const IN_FLIGHT_WAIT_MS = 5_000;
const IN_FLIGHT_POLL_MS = 50;

/** Takes one of the owner's `max` item slots, or refuses with CONFLICT when all are used. */
export async function reserveItemSlot(ownerId: string, max: number): Promise<void> {
  // A few rounds: a concurrent request may open the quota document or free a slot in between.
  for (let round = 0; round < 3; round++) {
    if (await take(ownerId, max)) return;
    const quota = await ItemQuotaModel.findById(ownerId).lean();
    if (quota?.closed) throw accountGone();
    if (!quota) await open(ownerId);
    else if (quota.used >= max && !(quota.legacy > 0 && (await recountLegacy(ownerId, quota.legacy)))) break;
  }
  throw new ConflictError(`You already have ${max} items, the most one user may keep; delete some to add more`, {
    maxItems: max,
  });
}

/** Gives a slot back: its item was deleted, or its insert failed. */
export async function releaseItemSlot(ownerId: string): Promise<void> {
  await atomically(lockKey(ownerId), () =>
    ItemQuotaModel.updateOne({ _id: ownerId, used: op({ $gt: 0 }) }, { $inc: { used: -1 } }),
  );
}

/**
 * Takes a slot. Concurrent takes for one owner go as one: n slots at once when all n fit, else
 * one by one (near the cap), so exactly as many succeed as there is room.
 */
async function take(ownerId: string, max: number): Promise<boolean> {
  const taken = await batched<boolean | Error>(lockKey(ownerId), async (n) => {
    if (n > 1) {
      const all = await ItemQuotaModel.updateOne(
        { _id: ownerId, used: op({ $lte: max - n }), ...OPEN },
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
          { _id: ownerId, used: op({ $lt: max }), ...OPEN },
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
 * Makes the owner's quota document. Account deletion deletes the user before it closes and
 * deletes the quota, so an owner found gone here is being (or was) deleted: refused. An owner
 * deleted between that check and the insert leaves a quota the deletion may already have passed
 * (and items created under it meanwhile): this creation then deletes them itself.
 */
async function open(ownerId: string): Promise<void> {
  if (!(await ownerExists(ownerId))) throw accountGone();
  // Counted before the insert: legacy items only ever decrease, so this stays an upper bound.
  const legacy = await countLegacy(ownerId);
  try {
    await atomically(lockKey(ownerId), () =>
      ItemQuotaModel.updateOne({ _id: ownerId }, { $setOnInsert: { used: legacy, legacy } }, { upsert: true }),
    );
  } catch (err) {
    // A concurrent request opened it first (FerretDB and older MongoDB do not retry that upsert).
    if (!isDuplicateKeyError(err)) throw err;
  }
  if (await ownerExists(ownerId)) return;
  await deleteItemsOf(ownerId, ownerId);
  throw accountGone();
}

const ownerExists = async (ownerId: string) => (await UserModel.exists({ _id: ownerId })) !== null;

/** Lowers the legacy bound to a fresh count, freeing the slots of deleted legacy items. */
async function recountLegacy(ownerId: string, bound: number): Promise<boolean> {
  const legacy = await countLegacy(ownerId);
  if (legacy >= bound) return false;
  // Conditional on the bound we read, so two recounts never subtract the same deletions twice.
  await atomically(lockKey(ownerId), () =>
    ItemQuotaModel.updateOne(
      { _id: ownerId, legacy: bound },
      { $inc: { legacy: legacy - bound, used: legacy - bound } },
    ),
  );
  return true;
}

/**
 * Before the owner's items are deleted: closes the quota so that no creation
 * can take a slot any more (they are refused), then waits for creations that took one before to
 * land or give it back, so the deletion that follows sees every item. A slot whose release
 * failed looks in flight for ever: the wait is bounded. Returns whether the quota existed.
 */
async function closeItemQuota(ownerId: string): Promise<boolean> {
  const before = await atomically(lockKey(ownerId), () =>
    ItemQuotaModel.findOneAndUpdate(
      { _id: ownerId },
      { $set: { closed: true }, $setOnInsert: { used: 0, legacy: 0 } },
      { upsert: true, returnDocument: 'before' },
    ).lean(),
  ).catch((err: unknown) => {
    // Opened by a creation at the same moment (no upsert retry on FerretDB): close it again.
    if (!isDuplicateKeyError(err)) throw err;
    return closeItemQuota(ownerId).then(() => ({ closed: true }));
  });
  const deadline = Date.now() + IN_FLIGHT_WAIT_MS;
  while ((await creationsInFlight(ownerId)) > 0 && Date.now() < deadline)
    await new Promise((resolve) => setTimeout(resolve, IN_FLIGHT_POLL_MS));
  return before !== null;
}

/** Slots taken by creations whose insert has not landed yet: taken slots minus counted items. */
async function creationsInFlight(ownerId: string): Promise<number> {
  // All items less the legacy ones: two counts the owner index serves (no index on `counted`).
  const [quota, all, legacy] = await Promise.all([
    ItemQuotaModel.findById(ownerId).lean(),
    ItemModel.countDocuments({ ownerId }),
    countLegacy(ownerId),
  ]);
  return quota ? quota.used - quota.legacy - (all - legacy) : 0;
}

/**
 * Account deletion (the user document is gone already): deletes the owner's items (subscribers
 * get a DELETED event for each) and quota. The quota is closed first and creations holding a slot
 * are waited for, so their items are deleted here too; a creation slower than the wait finds the
 * quota closed or gone after its insert and deletes its own item (undoIfOwnerDeleted) before it
 * answers. Returns how many documents
 * were deleted (a quota made only to be closed does not count).
 */
export async function deleteItemsOf(ownerId: string, actorId: string): Promise<number> {
  const hadQuota = await closeItemQuota(ownerId);
  const items = await ItemModel.find({ ownerId }, { ownerId: 1, category: 1, version: 1 }).lean<Item[]>();
  const removed = (await ItemModel.deleteMany({ ownerId })).deletedCount;
  for (const item of items) itemDeleted(item, actorId);
  const quota = (await ItemQuotaModel.deleteOne({ _id: ownerId })).deletedCount;
  return removed + (hadQuota ? quota : 0);
}

/**
 * After a creation's insert: if the owner's quota was closed or deleted meanwhile (account
 * deletion that no longer waited for it), the item is deleted again and the creation refused,
 * so no item outlives its owner's deletion. The slot goes with the quota.
 */
export async function undoIfOwnerDeleted(ownerId: string, item: Pick<Item, '_id'>): Promise<void> {
  // One caller's concurrent creations share one read (each joins a read that starts after its insert).
  const open = await batched(`itemQuotaOpen:${ownerId}`, async (n) =>
    Array<boolean>(n).fill((await ItemQuotaModel.exists({ _id: ownerId, ...OPEN })) !== null),
  );
  if (open) return;
  await ItemModel.deleteOne({ _id: item._id });
  throw accountGone();
}
