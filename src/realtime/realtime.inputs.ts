import { Field, ID, InputType } from 'type-graphql';

@InputType('ItemEventFilter', {
  description: "Every condition given must hold; none given: every personal item (an organization's need orgId).",
})
export class ItemEventFilter {
  @Field(() => ID, {
    nullable: true,
    description:
      "Only this organization's items (its members and site ADMINs; NOT_FOUND for anyone else). Without it: personal items only (an organization's API key: its organization's).",
  })
  orgId?: string | null;

  @Field(() => Boolean, { nullable: true, description: "Only the caller's own items." })
  mine?: boolean | null;

  @Field(() => ID, { nullable: true, description: 'Only the items of this owner.' })
  ownerId?: string | null;

  @Field(() => String, { nullable: true, description: 'Only items in this category (after the change).' })
  category?: string | null;

  @Field(() => [ID], { nullable: true, description: 'Only these items (at most 100 ids).' })
  ids?: string[] | null;
}
