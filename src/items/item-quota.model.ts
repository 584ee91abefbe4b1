import { getModelForClass, modelOptions, prop } from '@typegoose/typegoose';

/**
 * One document per item owner: how many of MAX_ITEMS_PER_USER slots are taken. Every write to it
 * is a single-document update, so the cap holds with several instances on MongoDB.
 */
@modelOptions({ schemaOptions: { collection: 'item_quotas', versionKey: false } })
export class ItemQuota {
  /** The owner's user id. */
  @prop({ required: true, type: String })
  _id!: string;

  /** Slots taken: `legacy` + items created under the quota + creations in flight. */
  @prop({ required: true, type: Number })
  used!: number;

  /**
   * An upper bound on the owner's items from before the quota existed (items without `counted`).
   * Such items are never created again, only deleted, so a fresh count can only lower it.
   */
  @prop({ required: true, type: Number })
  legacy!: number;

  /** Set while the owner's account is being deleted: no slot can be taken any more. */
  @prop({ type: Boolean })
  closed?: boolean;
}

export const ItemQuotaModel = getModelForClass(ItemQuota);
