import { getModelForClass, index, modelOptions, prop, Severity } from '@typegoose/typegoose';
import mongoose, { type Types } from 'mongoose';
import { Field, ID, ObjectType } from 'type-graphql';
import { OBJECT_ID_HEX } from '../core/validation';
import { AuditEventType, isAuditEventType } from './audit-event-types';

export { AuditEventType };

export type AuditDetailValue = string | number | boolean | null;

/**
 * Indexes (every list is keyset-paged on createdAt desc, _id desc):
 * - createdAt + _id: newest first overall; its createdAt prefix also serves the retention cleanup
 *   (`createdAt < cutoff`), so a separate createdAt index would only cost writes;
 * - userId + createdAt + _id: one user's events;
 * - type + createdAt + _id: one kind of event (userId and type together use the userId index).
 * No TTL index: FerretDB has none, so housekeeping deletes expired events (deleteExpiredAuditEvents).
 */
@ObjectType('AuditEvent', { description: 'A security event. Never holds passwords, tokens or Authorization headers.' })
// Events are written once and never updated, so no version key. Mixed `details` is deliberate:
// its keys and values are checked by the recorder before a write.
@modelOptions({
  schemaOptions: { collection: 'audit_events', versionKey: false },
  options: { allowMixed: Severity.ALLOW },
})
@index({ createdAt: -1, _id: -1 })
@index({ userId: 1, createdAt: -1, _id: -1 })
@index({ type: 1, createdAt: -1, _id: -1 })
export class AuditEvent {
  @Field(() => ID, { name: 'id' })
  readonly _id!: Types.ObjectId;

  @Field(() => AuditEventType)
  @prop({
    required: true,
    type: String,
    validate: { validator: isAuditEventType, message: 'unknown audit event type' },
  })
  type!: AuditEventType;

  @Field(() => ID, { nullable: true, description: 'The account the event is about; null for an unknown account.' })
  @prop({ type: String, default: null, match: OBJECT_ID_HEX })
  userId?: string | null;

  @Field(() => ID, {
    nullable: true,
    description: 'Who caused it when that is someone else, e.g. the admin who disabled the user.',
  })
  @prop({ type: String, default: null, match: OBJECT_ID_HEX })
  actorId?: string | null;

  @Field(() => String, { nullable: true, description: 'Client address, as the service saw it (see TRUST_PROXY).' })
  @prop({ type: String, default: null, maxlength: 64 })
  ip?: string | null;

  @Field(() => String, { nullable: true })
  @prop({ type: String, default: null, maxlength: 512 })
  userAgent?: string | null;

  @Field(() => String, {
    nullable: true,
    description:
      'The email given, e.g. at a failed login for an unknown account; only when it is a valid email address (anything else, such as a password typed into the email field, is not stored).',
  })
  @prop({ type: String, default: null, maxlength: 254 })
  email?: string | null;

  /** Flat key/value facts (exposed as a list of AuditDetail by the resolver). */
  @prop({ type: mongoose.Schema.Types.Mixed, default: () => ({}) })
  details!: Record<string, AuditDetailValue>;

  /** When the event happened (set by the recorder, not when the write reached the database). */
  @Field()
  @prop({ required: true, type: Date })
  createdAt!: Date;
}

export const AuditEventModel = getModelForClass(AuditEvent);
