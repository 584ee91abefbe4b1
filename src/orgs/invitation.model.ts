import { getModelForClass, index, modelOptions, prop } from '@typegoose/typegoose';
import type { Types } from 'mongoose';
import { Field, ID, ObjectType } from 'type-graphql';
import { OrgRole } from './org.model';

/** Where an invitation stands. Only PENDING ones (and not expired) can be accepted or revoked. */
export enum InvitationState {
  PENDING = 'PENDING',
  ACCEPTED = 'ACCEPTED',
  REVOKED = 'REVOKED',
  /** A newer invitation to the same address in the same organization took its place. */
  REPLACED = 'REPLACED',
}

/**
 * An invitation by email to join an organization with a role. Only the SHA-256 of its link token
 * is stored; the token itself exists only in the mail. Documents stay after acceptance or
 * revocation (so a late revoke can answer false) until housekeeping deletes them at expiry.
 *
 * Indexes: tokenHash (unique): following a link; orgId + state + expiresAt: an organization's
 * pending invitations (listing, expired ones reclaimed) and its deletion; orgId + email + state:
 * the pending invitation a newer one replaces; state + expiresAt: housekeeping.
 */
@ObjectType('Invitation', { description: 'A pending invitation to join an organization.' })
@modelOptions({ schemaOptions: { collection: 'invitations', versionKey: false } })
@index({ tokenHash: 1 }, { unique: true })
@index({ orgId: 1, state: 1, expiresAt: 1 })
@index({ orgId: 1, email: 1, state: 1 })
@index({ state: 1, expiresAt: 1 })
export class Invitation {
  @Field(() => ID, { name: 'id' })
  readonly _id!: Types.ObjectId;

  @prop({ required: true, type: String })
  orgId!: string;

  @Field({ description: 'The invited address, normalised (trimmed, lower-case).' })
  @prop({ required: true, type: String })
  email!: string;

  @Field(() => OrgRole, { description: 'The role the invitee gets on accepting.' })
  @prop({ required: true, enum: OrgRole, type: String })
  role!: OrgRole;

  @prop({ required: true, type: String })
  tokenHash!: string;

  /** Who invited (kept when that account is deleted: `invitedBy` then answers null). */
  @prop({ required: true, type: String })
  invitedById!: string;

  @prop({ required: true, enum: InvitationState, type: String, default: InvitationState.PENDING })
  state!: InvitationState;

  @Field({ description: 'After this the link no longer works.' })
  @prop({ required: true, type: Date })
  expiresAt!: Date;

  @prop({ required: true, type: Date })
  createdAt!: Date;

  /** Who accepted or revoked it, and when. */
  @prop({ type: String })
  settledBy?: string;

  @prop({ type: Date })
  settledAt?: Date;
}

export const InvitationModel = getModelForClass(Invitation);
