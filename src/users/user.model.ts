import { getModelForClass, index, modelOptions, prop, Severity } from '@typegoose/typegoose';
import type { Types } from 'mongoose';
import { Field, ID, ObjectType, registerEnumType } from 'type-graphql';

export enum Role {
  USER = 'USER',
  ADMIN = 'ADMIN',
}
registerEnumType(Role, {
  name: 'Role',
  description: 'What a user may do: USER manages their own items, ADMIN everything.',
});

@ObjectType('User', { description: 'A person who can sign in.' })
@modelOptions({ schemaOptions: { collection: 'users', timestamps: true }, options: { allowMixed: Severity.ERROR } })
// Emails are stored normalised (trimmed, lower-case), so a plain unique index enforces
// uniqueness in any letter case and serves every login lookup.
@index({ email: 1 }, { unique: true })
// Counting the active admins (the last one may not be demoted, disabled or deleted).
@index({ role: 1, disabled: 1 })
// Admin listing of users pages by _id (keyset); the default _id index serves it.
export class User {
  @Field(() => ID, { name: 'id' })
  readonly _id!: Types.ObjectId;

  @Field()
  @prop({ required: true, type: String })
  email!: string;

  /**
   * bcrypt hash, or null for an account without a password (it signs in another way); never part
   * of the GraphQL schema. Not `select: false`: mongoose would then send a projection with
   * findAndModify, which FerretDB v1 does not implement. Reads that return users to clients use
   * USER_VIEW_FIELDS instead.
   */
  @prop({ type: String, default: null })
  passwordHash?: string | null;

  /**
   * False for an account without a password, written with every passwordHash change (the hash
   * itself never leaves the server, and view reads do not select it). Resolved with a default in
   * UserResolver: accounts from before it have a password.
   */
  @Field({ description: 'False for an account that signs in only without a password (setPassword gives it one).' })
  @prop({ type: Boolean, default: true })
  hasPassword!: boolean;

  @Field(() => String, { nullable: true, description: 'Shown to other users (as PublicUser); 1 to 100 characters.' })
  @prop({ type: String, default: null })
  displayName?: string | null;

  /** Resolved with a default in UserResolver: accounts from before verification have no value. */
  @Field({ description: 'True once the owner followed a link sent to this address.' })
  @prop({ type: Boolean, default: false })
  emailVerified!: boolean;

  @Field(() => Role)
  @prop({ required: true, enum: Role, type: String, default: Role.USER })
  role!: Role;

  @Field()
  @prop({ required: true, type: Boolean, default: false })
  disabled!: boolean;

  /**
   * TOTP two-factor sign-in is on (src/mfa keeps the secret in its own collection). Here so that
   * login and Basic checks decide without another read. Resolved with a default in src/mfa:
   * accounts from before TOTP have no value.
   */
  @Field({ description: 'Signing in needs a code from an authenticator app (or a recovery code).' })
  @prop({ type: Boolean, default: false })
  totpEnabled!: boolean;

  /**
   * Bumped to invalidate every access token and session issued so far (logoutAll, password
   * change, disable). Failed sign-ins are counted per email (`lockout:` counters), not here.
   */
  @prop({ required: true, type: Number, default: 0 })
  tokenVersion!: number;

  @Field()
  readonly createdAt!: Date;

  readonly updatedAt!: Date;
}

export const UserModel = getModelForClass(User);

/** The projection for reads whose users may reach a client: no hash, no token version. */
export const USER_VIEW_FIELDS = {
  email: 1,
  displayName: 1,
  emailVerified: 1,
  role: 1,
  disabled: 1,
  totpEnabled: 1,
  hasPassword: 1,
  createdAt: 1,
} as const;
