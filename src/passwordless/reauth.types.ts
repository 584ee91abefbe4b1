import { GraphQLJSONObject } from 'graphql-scalars';
import { Field, InputType, ObjectType } from 'type-graphql';

@ObjectType('Reauthentication', { description: "This session's re-authentication window." })
export class Reauthentication {
  @Field({ description: 'Until then this session may make sensitive changes without currentPassword.' })
  expiresAt!: Date;
}

@InputType('ReauthenticateInput', {
  description: 'Exactly one proof: password or emailCode (each with totpCode when TOTP is on), or passkeyResponse.',
})
export class ReauthenticateInput {
  @Field(() => String, { nullable: true, description: 'My password.' })
  password?: string | null;

  @Field(() => String, {
    nullable: true,
    description: 'With password or emailCode, when two-factor sign-in is on: a code from the app or a recovery code.',
  })
  totpCode?: string | null;

  @Field(() => GraphQLJSONObject, {
    nullable: true,
    description: "The browser's AuthenticationResponseJSON by one of my passkeys, to a beginPasskeySignIn challenge.",
  })
  passkeyResponse?: Record<string, unknown> | null;

  @Field(() => String, {
    nullable: true,
    description: 'A code from requestSignInCode, mailed to my address (with totpCode when TOTP is on).',
  })
  emailCode?: string | null;
}
