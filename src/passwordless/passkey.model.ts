import { getModelForClass, index, modelOptions, prop } from '@typegoose/typegoose';
import type { Types } from 'mongoose';
import { Field, ID, ObjectType } from 'type-graphql';

/**
 * A passkey: a WebAuthn credential registered by its user. Clients see its name and dates only;
 * the credential id, public key and counter stay on the server.
 *
 * Indexes:
 * - credentialId (unique): an assertion names its credential by id;
 * - userId + slot (unique): a passkey holds one of its user's 20 slots, so the cap holds under
 *   parallel registrations on any number of instances (as API keys do);
 * - userId + createdAt + _id: a user's passkeys, oldest first.
 */
@ObjectType('Passkey', { description: 'A passkey that signs me in (WebAuthn).' })
@modelOptions({ schemaOptions: { collection: 'passkeys', timestamps: { createdAt: true, updatedAt: false } } })
@index({ credentialId: 1 }, { unique: true })
@index({ userId: 1, slot: 1 }, { unique: true })
@index({ userId: 1, createdAt: 1, _id: 1 })
export class Passkey {
  @Field(() => ID, { name: 'id' })
  readonly _id!: Types.ObjectId;

  @Field({ description: '1 to 64 characters, chosen by me.' })
  @prop({ required: true, type: String })
  name!: string;

  @prop({ required: true, type: String })
  userId!: string;

  @prop({ required: true, type: String })
  slot!: string;

  /** The credential id, base64url, as the browser's `id` gives it. */
  @prop({ required: true, type: String })
  credentialId!: string;

  /** The COSE public key, base64url. */
  @prop({ required: true, type: String })
  publicKey!: string;

  /** The authenticator's signature counter; 0 for those that keep none (most synced passkeys). */
  @prop({ required: true, type: Number })
  counter!: number;

  @prop({ type: () => [String], default: [] })
  transports!: string[];

  @Field({
    description: 'Whether the passkey is synced (backed up) by its provider, so losing one device does not lose it.',
  })
  @prop({ required: true, type: Boolean })
  backedUp!: boolean;

  @Field()
  readonly createdAt!: Date;

  @Field(() => Date, { nullable: true })
  @prop({ type: Date, default: null })
  lastUsedAt?: Date | null;
}

export const PasskeyModel = getModelForClass(Passkey);

/**
 * A user's WebAuthn user handle: 32 random bytes that authenticators store with each passkey,
 * so a passkey never carries the user's id or email. One per user, made at the first registration.
 */
@modelOptions({ schemaOptions: { collection: 'webauthn_users', versionKey: false } })
@index({ handle: 1 }, { unique: true })
export class WebAuthnUser {
  /** The user's id. */
  @prop({ required: true, type: String })
  _id!: string;

  /** base64url. */
  @prop({ required: true, type: String })
  handle!: string;
}

export const WebAuthnUserModel = getModelForClass(WebAuthnUser);

/**
 * A challenge handed out by a `begin…` mutation, waiting for its `finish…`: the id is the
 * challenge itself (32 random bytes, base64url), so the server finds it from the response's
 * clientDataJSON. Deleted when used (single use) and by housekeeping once expired.
 */
@modelOptions({ schemaOptions: { collection: 'webauthn_challenges', versionKey: false } })
@index({ expiresAt: 1 })
@index({ userId: 1 })
export class WebAuthnChallenge {
  @prop({ required: true, type: String })
  _id!: string;

  @prop({ required: true, enum: ['registration', 'authentication'], type: String })
  purpose!: 'registration' | 'authentication';

  /** Registration only: who asked for it (only they may finish it). */
  @prop({ type: String, default: null })
  userId?: string | null;

  @prop({ required: true, type: Date })
  expiresAt!: Date;
}

export const WebAuthnChallengeModel = getModelForClass(WebAuthnChallenge);
