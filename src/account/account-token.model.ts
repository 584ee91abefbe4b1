import { getModelForClass, index, modelOptions, prop } from '@typegoose/typegoose';

export enum AccountTokenKind {
  VERIFY_EMAIL = 'VERIFY_EMAIL',
  RESET_PASSWORD = 'RESET_PASSWORD',
  CHANGE_EMAIL = 'CHANGE_EMAIL',
}

/**
 * A single-use token sent in a link (email verification, password reset, email change). Only
 * its SHA-256 is stored, as the id; the token itself exists only in the mail.
 */
@modelOptions({
  schemaOptions: { collection: 'account_tokens', versionKey: false, timestamps: { createdAt: true, updatedAt: false } },
})
// Serves "a new request of the same kind invalidates older ones" and the deletion cascade.
@index({ userId: 1, kind: 1 })
// Serves the periodic cleanup (no TTL index: FerretDB has none).
@index({ expiresAt: 1 })
export class AccountToken {
  /** SHA-256 (hex) of the token. */
  @prop({ required: true, type: String })
  _id!: string;

  @prop({ required: true, type: String })
  userId!: string;

  @prop({ required: true, enum: AccountTokenKind, type: String })
  kind!: AccountTokenKind;

  /** The address the link was sent to: the account's email, or the new one for CHANGE_EMAIL. */
  @prop({ required: true, type: String })
  email!: string;

  @prop({ required: true, type: Date })
  expiresAt!: Date;
}

export const AccountTokenModel = getModelForClass(AccountToken);
