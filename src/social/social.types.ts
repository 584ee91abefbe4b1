import { Field, ObjectType } from 'type-graphql';

@ObjectType('SignInProvider', { description: 'An OpenID Connect provider people may sign in with.' })
export class SignInProvider {
  @Field({ description: 'What startProviderSignIn takes.' })
  id!: string;

  @Field({ description: "The sign-in button's label." })
  name!: string;
}

@ObjectType('ProviderRedirect', { description: 'Where to send the browser to sign in at the provider.' })
export class ProviderRedirect {
  @Field({ description: "The provider's authorization URL (state, nonce and PKCE challenge in it)." })
  url!: string;

  @Field({ description: 'The finish… mutation must come before this (10 minutes).' })
  expiresAt!: Date;
}
