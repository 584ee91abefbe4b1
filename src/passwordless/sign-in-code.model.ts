import { getModelForClass, index, modelOptions, prop } from '@typegoose/typegoose';

/**
 * A user's one live sign-in code (requestSignInCode): the id is the user's id, so mailing a new
 * code replaces the old one in one write. Only an HMAC of the code is stored (a 6-digit code has
 * too few values for a plain hash to hide it); the code itself exists only in the mail.
 */
@modelOptions({
  schemaOptions: { collection: 'sign_in_codes', versionKey: false, timestamps: { createdAt: true, updatedAt: false } },
})
// Serves the periodic cleanup (no TTL index: FerretDB has none).
@index({ expiresAt: 1 })
export class SignInCode {
  /** The user's id. */
  @prop({ required: true, type: String })
  _id!: string;

  @prop({ required: true, type: String })
  codeHash!: string;

  /** The address the code was mailed to: after an email change it no longer signs in. */
  @prop({ required: true, type: String })
  email!: string;

  /** Wrong codes tried against this one; it is void at MAX_CODE_MISSES. */
  @prop({ required: true, type: Number, default: 0 })
  misses!: number;

  @prop({ required: true, type: Date })
  expiresAt!: Date;
}

export const SignInCodeModel = getModelForClass(SignInCode);
