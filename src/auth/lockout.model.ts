import { getModelForClass, index, modelOptions, prop } from '@typegoose/typegoose';

/**
 * Password attempts per normalised email, whether or not an account has that email (so the
 * lockout cannot tell an attacker which emails exist). `count` is failures plus attempts still
 * being checked: a slot is taken before bcrypt runs, so a burst cannot evaluate more guesses
 * than the limit allows.
 */
@modelOptions({ schemaOptions: { collection: 'login_attempts', versionKey: false } })
// Serves the periodic cleanup (no TTL index: FerretDB has none).
@index({ resetAt: 1 })
class LoginAttempts {
  /** The normalised (trimmed, lower-cased) email. */
  @prop({ required: true, type: String })
  _id!: string;

  @prop({ required: true, type: Number })
  count!: number;

  /** When the failures are forgotten (and a lock ends): LOGIN_LOCK_SECONDS after the last attempt. */
  @prop({ required: true, type: Date })
  resetAt!: Date;
}

export const LoginAttemptsModel = getModelForClass(LoginAttempts);
