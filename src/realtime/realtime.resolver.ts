import { Arg, Ctx, FieldResolver, ID, Resolver, Root, Subscription } from 'type-graphql';
import type { Context } from '../core/context';
import { actorShownTo } from './realtime.access';
import { itemEventStream } from './realtime.stream';
import { ItemEventFilter } from './realtime.inputs';
import { ItemEvent } from './realtime.types';

@Resolver(() => ItemEvent)
export class RealtimeResolver {
  @Subscription(() => ItemEvent, {
    description:
      'Item changes as they are committed, in order per item (versions only grow). Over WebSocket (graphql-ws) at /graphql.',
    subscribe: ({ args, context }) =>
      itemEventStream(context as Context, (args as { filter?: ItemEventFilter | null }).filter),
  })
  itemEvents(
    @Root() event: ItemEvent,
    // Declared for the schema; the stream reads it in `subscribe`.
    @Arg('filter', () => ItemEventFilter, { nullable: true }) _filter: ItemEventFilter | null,
  ): ItemEvent {
    return event;
  }

  // Per subscriber: events are executed once per caller (realtime.execution.ts), never shared across callers.
  @FieldResolver(() => ID, {
    nullable: true,
    description:
      "Who made the change: shown to the item's owner and to admins (for an organization's item, also to its OWNERs and ADMINs), null for other subscribers.",
  })
  async actorId(@Root() event: ItemEvent, @Ctx() ctx: Context): Promise<string | null> {
    return (await actorShownTo(ctx, event)) ? event.actorId : null;
  }
}
