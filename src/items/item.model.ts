import { getModelForClass, index, modelOptions, prop } from '@typegoose/typegoose';
import type { Types } from 'mongoose';
import { Field, Float, ID, Int, ObjectType } from 'type-graphql';

/**
 * Indexes and the queries they serve (every list is keyset-paged on <order key>, _id). Every
 * list is scoped to one organization or to none: `orgId` is an equality in each, and null (which
 * also matches items stored before organizations, without the field) for personal items.
 * - orgId + createdAt/updatedAt/nameKey/priceKey + _id: `items` personal (orgId null) or of one
 *   organization, in each order; an organization's item count (its quota);
 * - ownerId + orgId + each order key: `mine: true` / `ownerId`, personal or in one organization,
 *   and an owner's personal items (quota, account deletion);
 * - orgId + category + createdAt: `category` filter (category + order, default order);
 * - orgId + tags + createdAt: `tags` filter (multikey);
 * - the default _id index: `item(id)`, update, delete and the owner lookups' `$in`.
 * `search` is a case-insensitive substring match: no index serves it (FerretDB has no text
 * indexes), so it is applied on top of the other conditions.
 */
@ObjectType('Item', { description: 'A record kept by a signed-in user, personal or of an organization.' })
@modelOptions({ schemaOptions: { collection: 'items', timestamps: true } })
@index({ orgId: 1, createdAt: -1, _id: -1 })
@index({ orgId: 1, updatedAt: -1, _id: -1 })
@index({ orgId: 1, nameKey: 1, _id: 1 })
@index({ orgId: 1, priceKey: 1, _id: 1 })
@index({ ownerId: 1, orgId: 1, createdAt: -1, _id: -1 })
@index({ ownerId: 1, orgId: 1, updatedAt: -1, _id: -1 })
@index({ ownerId: 1, orgId: 1, nameKey: 1, _id: 1 })
@index({ ownerId: 1, orgId: 1, priceKey: 1, _id: 1 })
@index({ orgId: 1, category: 1, createdAt: -1, _id: -1 })
@index({ orgId: 1, tags: 1, createdAt: -1, _id: -1 })
export class Item {
  @Field(() => ID, { name: 'id' })
  readonly _id!: Types.ObjectId;

  @Field()
  @prop({ required: true, type: String })
  name!: string;

  /** Lower-cased name: the NAME order is case-insensitive without needing collations. */
  @prop({ required: true, type: String })
  nameKey!: string;

  @Field(() => String, { nullable: true })
  @prop({ type: String, default: null })
  description?: string | null;

  @Field(() => String, { nullable: true })
  @prop({ type: String, default: null })
  category?: string | null;

  @Field(() => [String])
  @prop({ type: () => [String], default: [] })
  tags!: string[];

  @Field(() => Float, { nullable: true })
  @prop({ type: Number, default: null })
  price?: number | null;

  /** price, or -1 when there is none: a total order for keyset paging (prices are >= 0). */
  @prop({ required: true, type: Number })
  priceKey!: number;

  @Field(() => Int)
  @prop({ required: true, type: Number, default: 0 })
  quantity!: number;

  @Field(() => Int, { description: 'Starts at 1 and grows by 1 on every update.' })
  @prop({ required: true, type: Number, default: 1 })
  version!: number;

  @prop({ required: true, type: String })
  ownerId!: string;

  /**
   * The organization the item belongs to (for good: items never move); null, or absent on items
   * stored before organizations, for a personal item.
   */
  @prop({ type: String, default: null })
  orgId?: string | null;

  /** True when the item holds a slot of its owner's item quota (see item-quota.service.ts). */
  @prop({ type: Boolean })
  counted?: boolean;

  @Field()
  readonly createdAt!: Date;

  @Field()
  readonly updatedAt!: Date;
}

export const ItemModel = getModelForClass(Item);
