import { Field, ID, Int, ObjectType, registerEnumType } from 'type-graphql';
import { Item } from '../items/item.model';

export enum ItemEventType {
  CREATED = 'CREATED',
  UPDATED = 'UPDATED',
  DELETED = 'DELETED',
}

registerEnumType(ItemEventType, { name: 'ItemEventType', description: 'What happened to an item.' });

@ObjectType('ItemEvent', { description: 'A committed change to an item, delivered to subscribers.' })
export class ItemEvent {
  @Field(() => ItemEventType)
  type!: ItemEventType;

  @Field(() => ID, { description: 'The id of the item that changed.' })
  id!: string;

  @Field(() => Item, { nullable: true, description: 'The item after the change; null for DELETED.' })
  item!: Item | null;

  @Field(() => Int, {
    nullable: true,
    description: "The item's version after the change (for DELETED, one more than its last); grows per item.",
  })
  version!: number | null;

  /** Who made the change: resolved by RealtimeResolver.actorId, which shows it to those who could make it (realtime.access.ts). */
  @Field(() => ID, {
    nullable: true,
    description:
      "Who made the change: shown to the item's owner and to admins (for an organization's item, also to its OWNERs and ADMINs), null for other subscribers.",
  })
  actorId!: string | null;

  /** Not in the schema: the item's owner (also for DELETED), who decides who may see `actorId`. */
  ownerId!: string;

  /** Not in the schema: the item's organization (null: personal), whose ADMINs and OWNERs see `actorId`. */
  orgId!: string | null;

  @Field({ description: 'When the change was published, right after it was committed.' })
  at!: Date;
}
