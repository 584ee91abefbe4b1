import { Arg, Resolver, Root, Subscription } from 'type-graphql';
import type { Context } from '../context';
import { itemEventStream } from './realtime.stream';
import { ItemEvent, ItemEventFilter } from './realtime.types';

@Resolver()
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
}
