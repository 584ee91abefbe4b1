import { Arg, Ctx, FieldResolver, ID, Resolver, Root, Subscription } from 'type-graphql';
import type { AuthUser, Context } from '../core/context';
import { itemEventStream } from './realtime.stream';
import { ItemEventFilter } from './realtime.inputs';
import { ItemEvent } from './realtime.types';

/**
 * Whether `caller` may see who changed an item of `ownerId`. `item` and `items` name no actor, so
 * an event shows one only to those who could change the item themselves: its owner and admins.
 */
export function actorShownTo(caller: AuthUser | null, ownerId: string): boolean {
  return caller !== null && (caller.role === 'ADMIN' || caller.id === ownerId);
}

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
    description: "Who made the change: shown to the item's owner and to admins, null for other subscribers.",
  })
  actorId(@Root() event: ItemEvent, @Ctx() ctx: Context): string | null {
    return actorShownTo(ctx.user, event.ownerId) ? event.actorId : null;
  }
}
