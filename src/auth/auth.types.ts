import { Field, Int, ObjectType } from 'type-graphql';
import { User } from '../users/user.model';

export const COOKIE_DESCRIPTION =
  'Browsers: put the refresh token in an httpOnly cookie (__Host-refresh_token) instead of the body.';

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
