import { getModelForClass, index, modelOptions, prop } from '@typegoose/typegoose';

/** What a provider's verified ID token said, kept with the state for a retry with a TOTP code. */
export class VerifiedIdentity {
  @prop({ required: true, type: String })
  subject!: string;

  @prop({ type: String, default: null })
  email?: string | null;

  @prop({ type: Boolean, default: false })
  emailVerified!: boolean;

  @prop({ type: String, default: null })
  name?: string | null;
}

/**
 * One provider round trip between `start…` and `finish…`: the id is the `state` itself (32 random
 * bytes), bound to its provider, redirect URI and purpose, with the PKCE verifier and nonce the
 * callback is checked against. A finish claims it (`claimedAt`), so of two parallel finishes one
 * gets it; it is deleted when used, and by housekeeping 10 minutes after it was made.
 */
@modelOptions({ schemaOptions: { collection: 'oidc_states', versionKey: false } })
@index({ expiresAt: 1 })
@index({ userId: 1 })
export class OidcState {
  @prop({ required: true, type: String })
  _id!: string;

  @prop({ required: true, type: String })
  provider!: string;

  @prop({ required: true, type: String })
  redirectUri!: string;

  @prop({ required: true, enum: ['signIn', 'link'], type: String })
  purpose!: 'signIn' | 'link';

  /**
   * Sign-in only: SHA-256 of the browser binding cookie set by the start, so only the browser
   * that started a sign-in can finish it (a victim cannot be made to finish an attacker's).
   */
  @prop({ type: String, default: null })
  bindingHash?: string | null;

  /** Link only: who started it (only they may finish it). */
  @prop({ type: String, default: null })
  userId?: string | null;

  @prop({ required: true, type: String })
  codeVerifier!: string;

  @prop({ required: true, type: String })
  nonce!: string;

  @prop({ required: true, type: Date })
  expiresAt!: Date;

  @prop({ type: Date, default: null })
  claimedAt?: Date | null;

  /** Set once the provider's code was redeemed (it works once): a retry with a TOTP code reuses it. */
  @prop({ type: () => VerifiedIdentity, _id: false, default: null })
  identity?: VerifiedIdentity | null;
}

export const OidcStateModel = getModelForClass(OidcState);
