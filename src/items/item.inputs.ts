import { Field, Float, ID, InputType, Int, registerEnumType } from 'type-graphql';

@InputType('CreateItemInput')
export class CreateItemInput {
  @Field({ description: '1 to 200 characters after trimming.' })
  name!: string;

  @Field(() => String, { nullable: true, description: 'At most 5000 characters.' })
  description?: string | null;

  @Field(() => String, { nullable: true, description: 'At most 100 characters; matched exactly by filters.' })
  category?: string | null;

  @Field(() => [String], {
    nullable: true,
    description: 'At most 20, each 1 to 50 characters; stored lower-case, without duplicates.',
  })
  tags?: string[] | null;

  @Field(() => Float, { nullable: true, description: 'Finite and >= 0.' })
  price?: number | null;

  @Field(() => Int, { nullable: true, description: 'An integer >= 0; 0 when omitted.' })
  quantity?: number | null;

  @Field(() => ID, {
    nullable: true,
    description:
      "The organization the item belongs to (MEMBER or above there); none: a personal item. An organization API key's items always go to its organization.",
  })
  orgId?: string | null;
}

@InputType('UpdateItemInput', {
  description: 'Only the fields given change; null clears description, category or price.',
})
export class UpdateItemInput {
  @Field(() => String, { nullable: true })
  name?: string | null;

  @Field(() => String, { nullable: true })
  description?: string | null;

  @Field(() => String, { nullable: true })
  category?: string | null;

  @Field(() => [String], { nullable: true })
  tags?: string[] | null;

  @Field(() => Float, { nullable: true })
  price?: number | null;

  @Field(() => Int, { nullable: true })
  quantity?: number | null;
}

@InputType('ItemFilter', { description: 'All given conditions must hold.' })
export class ItemFilter {
  @Field(() => String, {
    nullable: true,
    description: 'Case-insensitive text inside name or description, matched literally.',
  })
  search?: string | null;

  @Field(() => String, { nullable: true })
  category?: string | null;

  @Field(() => [String], { nullable: true, description: 'Items having all of these tags.' })
  tags?: string[] | null;

  @Field(() => ID, { nullable: true })
  ownerId?: string | null;

  @Field(() => Boolean, { nullable: true, description: 'Only my items.' })
  mine?: boolean | null;

  @Field(() => ID, {
    nullable: true,
    description:
      "Only this organization's items (members only; NOT_FOUND to anyone else). Without it: personal items only (an organization API key: its organization's).",
  })
  orgId?: string | null;
}

export enum ItemOrderField {
  CREATED_AT = 'CREATED_AT',
  UPDATED_AT = 'UPDATED_AT',
  NAME = 'NAME',
  PRICE = 'PRICE',
}
registerEnumType(ItemOrderField, { name: 'ItemOrderField' });

export enum OrderDirection {
  ASC = 'ASC',
  DESC = 'DESC',
}
registerEnumType(OrderDirection, { name: 'OrderDirection' });

@InputType('ItemOrder')
export class ItemOrder {
  @Field(() => ItemOrderField)
  field!: ItemOrderField;

  @Field(() => OrderDirection)
  direction!: OrderDirection;
}
