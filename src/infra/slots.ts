import { randomInt } from 'node:crypto';
import { isDuplicateKeyError } from '../core/errors';

/** How to hold one of a holder's numbered places in a unique (holder, slot) index. */
export interface SlotInsert<S, T> {
  /** Every slot a holder has: as many as the cap allows. */
  slots: readonly S[];
  /** The slots the holder's documents hold now. */
  taken(): Promise<Iterable<S>>;
  /** Inserts the document in `slot` (a duplicate-key error when someone took it meanwhile). */
  insert(slot: S): Promise<T>;
  /** After a duplicate key: the refusal when another unique index refused (else the slot was taken: pick again). */
  otherConflict(): Promise<Error | null>;
  /** The refusal when no slot is free. */
  full(): Error;
}

/**
 * Inserts a document in a random free slot of its holder's, so that a per-holder cap holds under
 * parallel inserts without a count-then-insert race: the unique index lets one of two inserts
 * into the same slot through, and the other picks again. A few rounds, then `full`.
 */
export async function insertInFreeSlot<S, T>(how: SlotInsert<S, T>): Promise<T> {
  for (let attempt = 0; attempt < 5; attempt += 1) {
    const taken = new Set(await how.taken());
    const free = how.slots.filter((slot) => !taken.has(slot));
    if (free.length === 0) throw how.full();
    try {
      return await how.insert(free[randomInt(free.length)]!);
    } catch (err) {
      if (!isDuplicateKeyError(err)) throw err;
      const refusal = await how.otherConflict();
      if (refusal) throw refusal;
    }
  }
  throw how.full();
}
