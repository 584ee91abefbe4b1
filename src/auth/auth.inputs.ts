import { Field, InputType, Int, ObjectType } from 'type-graphql';
import { User } from '../users/user.model';

export const COOKIE_DESCRIPTION =
  'Browsers: put the refresh token in an httpOnly cookie (__Host-refresh_token) instead of the body.';

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

@ObjectType('AuthPayload', { description: 'A fresh access token and refresh token pair.' })
export class AuthPayload {
  @Field({ description: 'JWT for the `Authorization: Bearer` header.' })
  accessToken!: string;

  @Field(() => String, {
    nullable: true,
    description: 'Opaque; exchange it with `refreshToken` for a new pair. Single use. Null in cookie mode.',
  })
  refreshToken!: string | null;

  @Field({ description: 'Always `Bearer`.' })
  tokenType!: string;

  @Field(() => Int, { description: "The access token's lifetime in seconds." })
  expiresIn!: number;

  @Field(() => User)
  user!: User;
}
