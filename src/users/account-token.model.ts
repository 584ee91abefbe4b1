import { getModelForClass, index, modelOptions, prop } from '@typegoose/typegoose';

export enum AccountTokenKind {
  VERIFY_EMAIL = 'VERIFY_EMAIL',
  RESET_PASSWORD = 'RESET_PASSWORD',
  CHANGE_EMAIL = 'CHANGE_EMAIL',
}

/**
 * The one live link token of a kind for a user (email verification, password reset, email
 * change): the id is `<kind>:<userId>`, so issuing a new one replaces the old in one write.
 * Only the token's SHA-256 is stored; the token itself exists only in the mail.
 */
@modelOptions({
  schemaOptions: { collection: 'account_tokens', versionKey: false, timestamps: { createdAt: true, updatedAt: false } },
})
// Serves following a link.
@index({ tokenHash: 1 }, { unique: true })
// Serves the deletion cascade.
@index({ userId: 1 })
// Serves the periodic cleanup (no TTL index: FerretDB has none).
@index({ expiresAt: 1 })
export class AccountToken {
  @prop({ required: true, type: String })
  _id!: string;

  @prop({ required: true, type: String })
  tokenHash!: string;

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
