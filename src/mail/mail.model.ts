import { getModelForClass, index, modelOptions, prop } from '@typegoose/typegoose';
import type { Types } from 'mongoose';

export type MailStatus = 'pending' | 'failed';

/**
 * The outbox: every message is stored here before anyone is told it was sent, and removed once
 * the SMTP server took it (the body holds link tokens, so it does not stay in the database).
 * A message that ran out of attempts stays as `failed` without its body, for operators to see.
 * `lockedUntil` is the claim: a worker owns the message until then (epoch 0 when unclaimed).
 */
@modelOptions({ schemaOptions: { collection: 'mail_outbox', versionKey: false } })
// The worker's query: pending messages that are due and unclaimed, oldest first (lockedUntil
// last, checked on the index keys).
@index({ status: 1, nextAttemptAt: 1, _id: 1, lockedUntil: 1 })
// Account deletion deletes the account's messages.
@index({ userId: 1 })
export class MailMessage {
  readonly _id!: Types.ObjectId;

  @prop({ required: true, type: String, enum: ['pending', 'failed'], default: 'pending' })
  status!: MailStatus;

  /** Which template produced it, for logs (the message itself may be gone). */
  @prop({ required: true, type: String })
  template!: string;

  @prop({ required: true, type: String })
  to!: string;

  /** The account the message is about (absent on messages queued before it was recorded). */
  @prop({ type: String })
  userId?: string;

  @prop({ required: true, type: String })
  subject!: string;

  /** Unset once the message failed for good (it may hold a link token). */
  @prop({ type: String })
  text?: string;

  @prop({ type: String })
  html?: string;

  @prop({ required: true, type: Number, default: 0 })
  attempts!: number;

  @prop({ required: true, type: Date })
  nextAttemptAt!: Date;

  @prop({ required: true, type: Date, default: () => new Date(0) })
  lockedUntil!: Date;

  /** The last SMTP error (code and message; never the SMTP URL or credentials). */
  @prop({ type: String, default: null })
  lastError?: string | null;

  @prop({ required: true, type: Date })
  createdAt!: Date;
}

export const MailMessageModel = getModelForClass(MailMessage);

/** Every write to a claim goes through this key: on FerretDB a claim is read-then-write (see atomically). */
export const OUTBOX_KEY = 'mail_outbox';
