import type { Context } from '../core/context';
import { BadUserInputError, ForbiddenError, UnauthenticatedError } from '../core/errors';
import { parseObjectId } from '../core/validation';
import { forgetRuleResults } from '../http/access.rules';
import { assertMayWatch, watchedOrganization } from './realtime.access';
import type { RealtimeConnection } from './realtime.connection';
import type { DeliveredEvent, EventSelector, FeedSubscriber, ItemEventFeed } from './realtime.feed';
import type { ItemEventFilter } from './realtime.inputs';
import type { ItemEvent } from './realtime.types';

const MAX_FILTER_IDS = 100;
const MAX_CATEGORY_LENGTH = 100;

/** What a subscription's context is attached to: set by the WebSocket server, per operation. */
export interface SocketBinding {
  feed: ItemEventFeed;
  connection: RealtimeConnection;
  maxQueuedEvents: number;
  /** Live streams per connection (WS_MAX_SUBSCRIPTIONS), counted here where they really start and end. */
  maxSubscriptions: number;
  /** Called when a subscription's queue overflows: the socket cannot keep up. */
  slowConsumer(): void;
}

const bindings = new WeakMap<Context, SocketBinding>();

export const subscriptionLimit = (limit: number) =>
  new ForbiddenError(`At most ${limit} subscriptions per connection`, { reason: 'SUBSCRIPTION_LIMIT', limit });

export function bindToSocket(ctx: Context, binding: SocketBinding): void {
  bindings.set(ctx, binding);
}

function selectorOf(ctx: Context, filter: ItemEventFilter | null | undefined): EventSelector {
  if (!ctx.user) throw new UnauthenticatedError();
  const f = filter ?? {};
  if (f.ownerId !== undefined && f.ownerId !== null) parseObjectId(f.ownerId, 'filter.ownerId');
  if (f.ids !== undefined && f.ids !== null) {
    if (f.ids.length > MAX_FILTER_IDS)
      throw new BadUserInputError('filter.ids', `filter.ids must have at most ${MAX_FILTER_IDS} ids`);
    for (const id of f.ids) parseObjectId(id, 'filter.ids');
  }
  const category = f.category?.trim();
  if (category !== undefined && category.length > MAX_CATEGORY_LENGTH)
    throw new BadUserInputError('filter.category', `filter.category must be at most ${MAX_CATEGORY_LENGTH} characters`);
  const orgId = watchedOrganization(ctx.user, f.orgId);
  return {
    caller: ctx.user,
    filter: {
      ...(orgId === undefined ? {} : { orgId }),
      mine: f.mine ?? undefined,
      ownerId: f.ownerId?.toLowerCase() ?? undefined,
      // An empty category means items without one (they are stored as null).
      category: category === undefined ? undefined : category === '' ? null : category,
      ids: f.ids ? f.ids.map((id) => id.toLowerCase()) : undefined,
    },
  };
}

/**
 * One subscription's events, in the order the feed delivered them. Each event is checked
 * against the connection as it is handed to the executor: once the connection is closed (its
 * credential no longer stands) nothing more is delivered. The queue is bounded: a socket that
 * cannot keep up is disconnected rather than left to grow memory.
 */
class EventStream implements AsyncIterableIterator<ItemEvent>, FeedSubscriber {
  private queue: DeliveredEvent[] = [];
  private wake: (() => void) | undefined;
  private done = false;
  private readonly leave: () => void;
  /** Watching an organization as a site ADMIN who is not a member: only while they are one. */
  asSiteAdmin = false;

  constructor(
    private readonly ctx: Context,
    readonly selector: EventSelector,
    private readonly binding: SocketBinding,
  ) {
    const leaveFeed = binding.feed.add(this);
    const streams = binding.connection.streams;
    streams.add(this);
    this.leave = () => {
      leaveFeed();
      streams.delete(this);
    };
  }

  push(event: DeliveredEvent): void {
    if (this.done) return;
    if (this.queue.length >= this.binding.maxQueuedEvents) {
      this.binding.slowConsumer();
      this.finish();
      return;
    }
    this.queue.push(event);
    this.wake?.();
  }

  async next(): Promise<IteratorResult<ItemEvent>> {
    while (!this.done) {
      const next = this.queue.shift();
      if (!next) {
        await new Promise<void>((resolve) => (this.wake = resolve));
        this.wake = undefined;
        continue;
      }
      if (this.binding.connection.closed) break;
      // The connection's user is re-checked when their account changes: a site ADMIN demoted
      // since the subscription started has no business in an organization they are not in.
      if (this.asSiteAdmin && this.binding.connection.user.role !== 'ADMIN') break;
      // Fresh per event: loaders shared with the event's other subscribers, and the permission
      // rules evaluated again against the caller as last checked.
      this.ctx.loaders = next.loaders;
      forgetRuleResults(this.ctx);
      return { value: next.event, done: false };
    }
    return this.finish();
  }

  /** The caller's access ended (a membership): completes the subscription, the queue dropped. */
  end(): void {
    this.finish();
  }

  return(): Promise<IteratorResult<ItemEvent>> {
    return Promise.resolve(this.finish());
  }

  throw(err: unknown): Promise<IteratorResult<ItemEvent>> {
    this.finish();
    return Promise.reject(err instanceof Error ? err : new Error(String(err)));
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  finish(): IteratorResult<ItemEvent> {
    if (!this.done) {
      this.done = true;
      this.queue = [];
      this.leave();
      this.wake?.();
    }
    return { value: undefined, done: true };
  }
}

/**
 * The `itemEvents` source: the caller's view of the item channel, filtered as asked; an
 * organization's only for its members (and site ADMINs).
 */
export async function itemEventStream(
  ctx: Context,
  filter: ItemEventFilter | null | undefined,
): Promise<AsyncIterable<ItemEvent>> {
  const binding = bindings.get(ctx);
  if (!binding) throw new BadUserInputError('itemEvents', 'Subscriptions run over WebSocket (graphql-ws) at /graphql');
  // graphql-ws forgets an operation whose id is reused before it started: counting the streams
  // themselves keeps the limit, and the connection ends every one of them when it closes.
  if (binding.connection.closed) throw new UnauthenticatedError('The connection is closing');
  if (binding.connection.streams.size >= binding.maxSubscriptions) throw subscriptionLimit(binding.maxSubscriptions);
  const selector = selectorOf(ctx, filter);
  // In the feed before the membership is checked: a membership ending between the check and
  // joining the feed would otherwise go unnoticed, and the stream live on.
  const stream = new EventStream(ctx, selector, binding);
  if (selector.filter.orgId !== undefined) {
    try {
      stream.asSiteAdmin = (await assertMayWatch(selector.caller, selector.filter.orgId)) === 'siteAdmin';
    } catch (err) {
      stream.finish();
      throw err;
    }
  }
  return stream;
}
