import { getModelForClass, index, modelOptions, prop } from '@typegoose/typegoose';
import type { Types } from 'mongoose';
import { Field, ID, ObjectType } from 'type-graphql';

// findOneAndUpdate here never passes a projection: FerretDB v1 does not implement `fields`
// on findAndModify.
@ObjectType('Session', { description: 'A signed-in device or client: one refresh token chain.' })
@modelOptions({ schemaOptions: { collection: 'sessions', timestamps: { createdAt: true, updatedAt: false } } })
// Serves "my active sessions" and revoking all of a user's sessions.
@index({ userId: 1, expiresAt: 1 })
// Serves the periodic cleanup of expired sessions (no TTL index: FerretDB has none).
@index({ expiresAt: 1 })
export class Session {
  @Field(() => ID, { name: 'id' })
  readonly _id!: Types.ObjectId;

  @prop({ required: true, type: String })
  userId!: string;

  /** SHA-256 of the current refresh token's secret part; the token itself is never stored. */
  @prop({ required: true, type: String })
  tokenHash!: string;

  @Field()
  readonly createdAt!: Date;

  @Field(() => Date, { nullable: true })
  @prop({ type: Date, default: null })
  lastUsedAt?: Date | null;

  @Field()
  @prop({ required: true, type: Date })
  expiresAt!: Date;

  @Field(() => String, { nullable: true })
  @prop({ type: String, default: null, maxlength: 512 })
  userAgent?: string | null;

  @prop({ type: Date, default: null })
  revokedAt?: Date | null;

  /** Set per request: whether the caller's access token belongs to this session. */
  @Field({ description: 'True for the session of the access token making this request.' })
  current?: boolean;
}

export const SessionModel = getModelForClass(Session);
