import { Field, InputType, Int, ObjectType } from 'type-graphql';
import { ApiKey, ApiKeyScope } from './apikey.model';

@ObjectType('CreatedApiKey')
export class CreatedApiKey {
  @Field(() => ApiKey)
  apiKey!: ApiKey;

  @Field({ description: 'The secret, shown here only: store it now.' })
  secret!: string;
}

@InputType('CreateApiKeyInput')
export class CreateApiKeyInput {
  @Field({ description: '1 to 100 characters.' })
  name!: string;

  @Field(() => [ApiKeyScope], { description: 'At least one.' })
  scopes!: ApiKeyScope[];

  @Field(() => Int, { nullable: true, description: 'Days until the key expires, 1 to 365; none: it never expires.' })
  expiresInDays?: number | null;
}
