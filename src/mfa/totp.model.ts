import { getModelForClass, modelOptions, prop, Severity } from '@typegoose/typegoose';

/**
 * A user's TOTP credentials, apart from the user document so that no user read (login, Basic,
 * every Bearer request) ever carries them; the user holds only `totpEnabled`. The id is the
 * user's id (hex), so there is at most one per user and it is found without another index.
 */
@modelOptions({
  schemaOptions: { collection: 'totp_credentials', timestamps: true },
  options: { allowMixed: Severity.ERROR },
})
export class TotpCredential {
  @prop({ required: true, type: String })
  _id!: string;

  /** The enabled secret, AES-256-GCM encrypted (totp.crypto.ts); null until setup is confirmed. */
  @prop({ type: String, default: null })
  secret?: string | null;

  /** A secret from beginTotpSetup waiting for its first code; a new setup replaces it. */
  @prop({ type: String, default: null })
  pendingSecret?: string | null;

  /**
   * Wrong codes against this pending secret, over every lockout window: at LOGIN_MAX_ATTEMPTS the
   * secret is dropped, so guesses paced below the lockout do not go on for ever.
   */
  @prop({ type: Number, default: 0 })
  pendingMisses?: number;

  /**
   * The 30-second step of the last code accepted: only a later step is accepted next, so a
   * code cannot be used twice (RFC 6238 §5.2).
   */
  @prop({ required: true, type: Number, default: 0 })
  lastStep!: number;

  /** HMACs of the unused recovery codes; each is removed when used. */
  @prop({ type: () => [String], default: [] })
  recoveryCodes!: string[];

  readonly createdAt!: Date;
  readonly updatedAt!: Date;
}

export const TotpCredentialModel = getModelForClass(TotpCredential);
