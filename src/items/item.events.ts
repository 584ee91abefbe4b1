import { publishEvent } from '../infra/events';
import type { Item } from './item.model';

/** The bus channel of item changes (see src/realtime for who listens). */
export const ITEM_EVENTS_CHANNEL = 'items';

export type ItemChange = 'CREATED' | 'UPDATED' | 'DELETED';

/** An item as it travels on the bus: JSON, dates as ISO strings. */
export interface ItemSnapshot {
  id: string;
  name: string;
  description: string | null;
  category: string | null;
  tags: string[];
  price: number | null;
  quantity: number;
  version: number;
  ownerId: string;
  /** The item's organization; null for a personal item (absent from instances before organizations). */
  orgId?: string | null;
  createdAt: string;
  updatedAt: string;
}

export interface ItemEventMessage {
  type: ItemChange;
  id: string;
  /** The item's version after the change; a deletion is the version after the last update. */
  version: number;
  /** Who made the change. */
  actorId: string | null;
  at: string;
  /** Kept for DELETED too, so subscribers can filter a deletion by owner and category. */
  ownerId: string;
  /** The item's organization (null: a personal item): only its members receive the event. */
  orgId: string | null;
  category: string | null;
  item: ItemSnapshot | null;
}

/** Every scalar field of Item as JSON puts it (dates as ISO strings), plus the owner's and organization's ids. */
export function itemSnapshot(item: Item): ItemSnapshot {
  return {
    id: String(item._id),
    name: item.name,
    description: item.description ?? null,
    category: item.category ?? null,
    tags: item.tags,
    price: item.price ?? null,
    quantity: item.quantity,
    version: item.version,
    ownerId: item.ownerId,
    orgId: item.orgId ?? null,
    createdAt: item.createdAt.toISOString(),
    updatedAt: item.updatedAt.toISOString(),
  };
}

/** Publishes a committed creation or update. Call only after the write returned. */
export function itemChanged(type: 'CREATED' | 'UPDATED', item: Item, actorId: string | null): void {
  const message: ItemEventMessage = {
    type,
    id: String(item._id),
    version: item.version,
    actorId,
    at: new Date().toISOString(),
    ownerId: item.ownerId,
    orgId: item.orgId ?? null,
    category: item.category ?? null,
    item: itemSnapshot(item),
  };
  publishEvent(ITEM_EVENTS_CHANNEL, message);
}

/** Publishes a committed deletion. */
export function itemDeleted(
  item: Pick<Item, '_id' | 'ownerId' | 'orgId' | 'category' | 'version'>,
  actorId: string | null,
): void {
  const message: ItemEventMessage = {
    type: 'DELETED',
    id: String(item._id),
    version: (item.version ?? 0) + 1,
    actorId,
    at: new Date().toISOString(),
    ownerId: item.ownerId,
    orgId: item.orgId ?? null,
    category: item.category ?? null,
    item: null,
  };
  publishEvent(ITEM_EVENTS_CHANNEL, message);
}

/** The item of a message back in the shape the Item type resolves (dates as Date). */
export function itemOf(snap: ItemSnapshot): Item {
  return {
    ...snap,
    _id: snap.id,
    nameKey: snap.name.toLowerCase(),
    priceKey: snap.price ?? -1,
    createdAt: new Date(snap.createdAt),
    updatedAt: new Date(snap.updatedAt),
  } as unknown as Item;
}
