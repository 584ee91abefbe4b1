import { getModelForClass, index, modelOptions, prop } from '@typegoose/typegoose';
import { Field, ID, ObjectType } from 'type-graphql';

// findOneAndUpdate here never passes a projection: FerretDB v1 does not implement `fields`
// on findAndModify.
@ObjectType('Session', { description: 'A signed-in device or client: one refresh token chain.' })
@modelOptions({
  schemaOptions: { collection: 'sessions', timestamps: { createdAt: true, updatedAt: false }, versionKey: false },
})
// Serves "my active sessions" (newest first), revoking all of a user's sessions and the deletion cascade.
@index({ userId: 1, revokedAt: 1, createdAt: -1, _id: -1, expiresAt: 1 })
// Serves forgetting sealed secrets once the reuse interval is over.
@index({ rotatedAt: 1 })
// Serve the periodic cleanup of expired and idle sessions (no TTL index: FerretDB has none).
@index({ expiresAt: 1 })
@index({ lastUsedAt: 1 })
export class Session {
  /** 128 random bits (base64url): unguessable, unlike an ObjectId. */
  @Field(() => ID, { name: 'id' })
  @prop({ required: true, type: String })
  readonly _id!: string;

  @prop({ required: true, type: String })
  userId!: string;

  /** SHA-256 of the current refresh token's secret part; the token itself is never stored. */
  @prop({ required: true, type: String })
  tokenHash!: string;

  /**
   * SHA-256 of the secrets this session already rotated away (the newest MAX_PREVIOUS): only one
   * of these presented again is token reuse. Any other wrong secret is just refused.
   */
  @prop({ type: () => [String], default: [] })
  previousHashes!: string[];

  /**
   * The last rotation, for REFRESH_REUSE_INTERVAL: the hash of the secret it replaced, when, and
   * the new secret sealed (AES-256-GCM, key derived from the server secret), so two tabs that
   * present the same token at once both get the same new one. The sealed secret is removed once
   * the interval is over.
   */
  @prop({ type: String, default: null })
  parentHash?: string | null;

  @prop({ type: Date, default: null })
  rotatedAt?: Date | null;

  @prop({ type: String, default: null })
  sealedChild?: string | null;

  /** The user's token version when the session started: a later logoutAll, password change or
   * disable bumps the user's version, and a session from before it can never refresh again. */
  @prop({ required: true, type: Number })
  tokenVersion!: number;

  @Field()
  readonly createdAt!: Date;

  /** Last start or refresh; a session idle for SESSION_IDLE_TIMEOUT ends. */
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

  /** Until when `reauthenticate` lets this session make sensitive changes without the password. */
  @prop({ type: Date, default: null })
  reauthenticatedUntil?: Date | null;

  /** Set per request: whether the caller's access token belongs to this session. */
  @Field({ description: 'True for the session of the access token making this request.' })
  current?: boolean;
}

/** How many rotated-away secrets a session remembers for reuse detection. */
export const MAX_PREVIOUS_HASHES = 100;

export const SessionModel = getModelForClass(Session);
