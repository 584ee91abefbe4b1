import { atomically, batched, op } from '../core/db';
import { ConflictError, isDuplicateKeyError } from '../core/errors';
import { ItemQuotaModel } from './item-quota.model';
import { ItemModel } from './item.model';

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

/** Takes one of the owner's `max` item slots, or refuses with CONFLICT when all are used. */
export async function reserveItemSlot(ownerId: string, max: number): Promise<void> {
  // A few rounds: a concurrent request may open the quota document or free a slot in between.
  for (let round = 0; round < 3; round++) {
    if (await take(ownerId, max)) return;
    const quota = await ItemQuotaModel.findById(ownerId).lean();
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
      const all = await ItemQuotaModel.updateOne({ _id: ownerId, used: op({ $lte: max - n }) }, { $inc: { used: n } });
      if (all.modifiedCount === 1) return Array<boolean>(n).fill(true);
    }
    // One by one, each caller with its own answer: a write that fails is that caller's error
    // alone, and the slots taken before it stay with callers that go on to use (or release) them.
    const answers: Array<boolean | Error> = [];
    for (let i = 0; i < n; i++) {
      try {
        const res = await ItemQuotaModel.updateOne({ _id: ownerId, used: op({ $lt: max }) }, { $inc: { used: 1 } });
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

async function open(ownerId: string): Promise<void> {
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
}

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
