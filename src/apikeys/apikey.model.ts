import { getModelForClass, index, modelOptions, prop } from '@typegoose/typegoose';
import type { Types } from 'mongoose';
import { Field, ID, ObjectType, registerEnumType } from 'type-graphql';

export enum ApiKeyScope {
  ITEMS_READ = 'ITEMS_READ',
  ITEMS_WRITE = 'ITEMS_WRITE',
}
registerEnumType(ApiKeyScope, {
  name: 'ApiKeyScope',
  description:
    'What an API key may do: ITEMS_READ (me, item, items, itemEvents), ITEMS_WRITE (create/update/deleteItem).',
});

/**
 * Indexes:
 * - hash (unique): a Bearer secret is found by its HMAC, never by the secret itself;
 * - ownerId + slot (unique): an active key holds one of its owner's 20 slots ("0".."19"), so the
 *   cap holds under parallel creations on any number of instances; a revoked or expired key's
 *   slot becomes `free:<its id>`, unique too;
 * - ownerId + revokedAt + createdAt: an owner's unrevoked keys, newest first.
 */
@ObjectType('ApiKey', { description: 'A credential for scripts and services; the secret is never shown again.' })
@modelOptions({ schemaOptions: { collection: 'api_keys', timestamps: { createdAt: true, updatedAt: false } } })
@index({ hash: 1 }, { unique: true })
@index({ ownerId: 1, slot: 1 }, { unique: true })
@index({ ownerId: 1, revokedAt: 1, createdAt: -1, _id: -1 })
export class ApiKey {
  @Field(() => ID, { name: 'id' })
  readonly _id!: Types.ObjectId;

  @Field()
  @prop({ required: true, type: String })
  name!: string;

  @Field({ description: 'The first characters of the secret, to recognise it (e.g. in a secret scanner alert).' })
  @prop({ required: true, type: String })
  prefix!: string;

  @Field(() => [ApiKeyScope])
  @prop({ required: true, type: () => [String], enum: Object.values(ApiKeyScope) })
  scopes!: ApiKeyScope[];

  @prop({ required: true, type: String })
  ownerId!: string;

  @Field(() => ID, {
    nullable: true,
    description:
      'The organization the key acts in, only on its items and with my role there at each request; null: it acts as me.',
  })
  @prop({ type: String, default: null })
  orgId?: string | null;

  /**
   * The creator's membership the key was made under: once it ends, the key never acts again, even
   * if they join the organization anew (a leaked key of a removed member stays dead).
   */
  @prop({ type: String, default: null })
  membershipId?: string | null;

  /** HMAC-SHA256 of the secret under API_KEY_PEPPER, base64url. */
  @prop({ required: true, type: String })
  hash!: string;

  @prop({ required: true, type: String })
  slot!: string;

  @Field(() => Date, { nullable: true })
  @prop({ type: Date, default: null })
  expiresAt?: Date | null;

  @Field(() => Date, { nullable: true, description: 'Updated at most once a minute.' })
  @prop({ type: Date, default: null })
  lastUsedAt?: Date | null;

  @prop({ type: Date, default: null })
  revokedAt?: Date | null;

  @Field()
  readonly createdAt!: Date;
}

export const ApiKeyModel = getModelForClass(ApiKey);
