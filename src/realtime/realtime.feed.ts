import { LRUCache } from 'lru-cache';
import type { AuthUser } from '../core/context';
import type { EventBus } from '../infra/events';
import type { Logger } from '../core/logger';
import { ITEM_EVENTS_CHANNEL, itemOf, type ItemEventMessage } from '../items/item.events';
import { isMembershipEnded, MEMBERSHIP_CHANNEL, type MembershipEndedMessage } from '../orgs/org.events';
import { ItemEventType, type ItemEvent } from './realtime.types';

/** Items whose last delivered version is remembered (to drop events that arrive late). */
const VERSIONS_KEPT = 100_000;
const VERSION_MEMORY_MS = 10 * 60_000;

/** One change as every subscriber of this instance sees it. */
export interface DeliveredEvent {
  message: ItemEventMessage;
  event: ItemEvent;
  /**
   * DataLoaders shared by every subscriber of this one event, so a thousand subscriptions
   * selecting `item { owner { displayName } }` cost one owner lookup, never a stale one.
   */
  loaders: Map<string, unknown>;
}

/** A subscription's interest, already validated. */
export interface EventSelector {
  caller: AuthUser;
  filter: {
    /**
     * Only this organization's items (its membership checked when the subscription started, and
     * the stream ended when it ends); absent: personal items only, whatever else the filter says.
     */
    orgId?: string;
    mine?: boolean;
    ownerId?: string;
    /** null: items without a category. */
    category?: string | null;
    ids?: string[];
  };
}

export interface FeedSubscriber {
  selector: EventSelector;
  push(event: DeliveredEvent): void;
  /** The caller's access to what it watches ended (a membership): the stream finishes now. */
  end(): void;
}

export function matches({ caller, filter }: EventSelector, message: ItemEventMessage): boolean {
  // An organization's events go only to the subscriptions that asked for it (their membership checked).
  if ((message.orgId ?? undefined) !== filter.orgId) return false;
  if (filter.mine && message.ownerId !== caller.id) return false;
  if (filter.ownerId !== undefined && message.ownerId !== filter.ownerId) return false;
  if (filter.category !== undefined && message.category !== filter.category) return false;
  if (filter.ids !== undefined && !filter.ids.includes(message.id)) return false;
  return true;
}

function isMessage(value: unknown): value is ItemEventMessage {
  const m = value as Partial<ItemEventMessage> | null;
  return (
    typeof m === 'object' &&
    m !== null &&
    (m.type === 'CREATED' || m.type === 'UPDATED' || m.type === 'DELETED') &&
    typeof m.id === 'string' &&
    typeof m.version === 'number' &&
    typeof m.ownerId === 'string' &&
    // Absent from instances older than organizations (a rolling deploy): a personal item.
    (m.orgId === undefined || m.orgId === null || typeof m.orgId === 'string') &&
    typeof m.at === 'string' &&
    (m.type === 'DELETED' ? m.item === null : typeof m.item === 'object' && m.item !== null)
  );
}

/**
 * This instance's side of the item channel: one bus subscription, fanned out to every local
 * subscription whose filter matches. Per item, versions only go up: an event that arrives after
 * a later one of the same item (two instances publishing concurrent updates) is dropped, since
 * the later event already carries the newer state. It also follows the membership channel: when
 * a membership ends (on any instance), the streams of that member on that organization end.
 */
export class ItemEventFeed {
  private readonly subscribers = new Set<FeedSubscriber>();
  private readonly versions = new LRUCache<string, { version: number; deleted: boolean }>({
    max: VERSIONS_KEPT,
    ttl: VERSION_MEMORY_MS,
  });
  private readonly unsubscribe: Array<() => void>;

  constructor(
    bus: EventBus,
    private readonly logger: Logger,
  ) {
    this.unsubscribe = [
      bus.subscribe(ITEM_EVENTS_CHANNEL, (message) => this.deliver(message)),
      bus.subscribe(MEMBERSHIP_CHANNEL, (message) => this.membershipEnded(message)),
    ];
  }

  add(subscriber: FeedSubscriber): () => void {
    this.subscribers.add(subscriber);
    return () => this.subscribers.delete(subscriber);
  }

  /** Ends the streams of a member on an organization (userId null: everyone's, the organization went). */
  private membershipEnded(message: unknown): void {
    if (!isMembershipEnded(message)) {
      this.logger.warn('realtime: ignored a malformed membership message');
      return;
    }
    const { orgId, userId }: MembershipEndedMessage = message;
    for (const subscriber of [...this.subscribers]) {
      const { caller, filter } = subscriber.selector;
      if (filter.orgId === orgId && (userId === null || caller.id === userId)) subscriber.end();
    }
  }

  private deliver(message: unknown): void {
    if (!isMessage(message)) {
      this.logger.warn('realtime: ignored a malformed item event');
      return;
    }
    const last = this.versions.get(message.id);
    const deleted = message.type === 'DELETED';
    // A deletion computed from the version before a concurrent update (the account-deletion
    // cascade reads, then deletes) carries that update's version: it still goes out, once.
    if (last && (message.version < last.version || (message.version === last.version && (!deleted || last.deleted))))
      return;
    this.versions.set(message.id, { version: message.version, deleted });
    if (this.subscribers.size === 0) return;
    const delivered: DeliveredEvent = {
      message,
      loaders: new Map(),
      event: {
        type: ItemEventType[message.type],
        id: message.id,
        item: message.item ? itemOf(message.item) : null,
        version: message.version,
        actorId: message.actorId,
        ownerId: message.ownerId,
        orgId: message.orgId ?? null,
        at: new Date(message.at),
      },
    };
    for (const subscriber of this.subscribers) {
      if (matches(subscriber.selector, message)) subscriber.push(delivered);
    }
  }

  close(): void {
    for (const unsubscribe of this.unsubscribe) unsubscribe();
    this.subscribers.clear();
  }
}
