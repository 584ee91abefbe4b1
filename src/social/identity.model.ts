import { getModelForClass, index, modelOptions, prop } from '@typegoose/typegoose';
import type { Types } from 'mongoose';
import { Field, ID, ObjectType } from 'type-graphql';

/**
 * An account's identity at an OpenID Connect provider: (provider, subject) signs that account in.
 *
 * Indexes:
 * - provider + subject (unique): an identity belongs to one account only;
 * - userId + linkedAt + _id: an account's identities, oldest first (and the deletion cascade).
 */
@ObjectType('LinkedIdentity', { description: 'A provider account that signs me in.' })
@modelOptions({ schemaOptions: { collection: 'linked_identities', versionKey: false } })
@index({ provider: 1, subject: 1 }, { unique: true })
@index({ userId: 1, linkedAt: 1, _id: 1 })
export class LinkedIdentity {
  @Field(() => ID, { name: 'id' })
  readonly _id!: Types.ObjectId;

  @prop({ required: true, type: String })
  userId!: string;

  @Field({ description: 'The provider id, as signInProviders lists it.' })
  @prop({ required: true, type: String })
  provider!: string;

  /** The provider's `sub` claim: stable, unlike the email. */
  @prop({ required: true, type: String })
  subject!: string;

  @Field(() => String, { nullable: true, description: 'The email the provider gave when last used.' })
  @prop({ type: String, default: null })
  email?: string | null;

  @Field()
  @prop({ required: true, type: Date })
  linkedAt!: Date;

  @Field(() => Date, { nullable: true })
  @prop({ type: Date, default: null })
  lastUsedAt?: Date | null;
}

export const LinkedIdentityModel = getModelForClass(LinkedIdentity);
