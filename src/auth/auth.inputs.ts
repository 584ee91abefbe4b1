import { Field, InputType } from 'type-graphql';
import { COOKIE_DESCRIPTION } from './auth.types';

@InputType('RegisterInput')
export class RegisterInput {
  @Field({ description: 'A valid address, at most 254 characters; stored trimmed and lower-case.' })
  email!: string;

  @Field({ description: '8 to 128 characters, and not easy to guess.' })
  password!: string;

  @Field(() => String, {
    nullable: true,
    description: 'Shown to other users; 1 to 100 characters, no web or email address.',
  })
  displayName?: string | null;

  @Field(() => Boolean, { nullable: true, description: COOKIE_DESCRIPTION })
  useCookie?: boolean | null;
}

@InputType('LoginInput')
export class LoginInput {
  @Field()
  email!: string;

  @Field()
  password!: string;

  @Field(() => String, {
    nullable: true,
    description:
      'Accounts with two-factor sign-in: the 6-digit code from the authenticator app, or an unused recovery code. Without it such an account gets UNAUTHENTICATED with reason MFA_REQUIRED.',
  })
  totpCode?: string | null;

  @Field(() => Boolean, { nullable: true, description: COOKIE_DESCRIPTION })
  useCookie?: boolean | null;
}
