import { Field, ObjectType } from 'type-graphql';
import { ApiKey } from './apikey.model';

@ObjectType('CreatedApiKey')
export class CreatedApiKey {
  @Field(() => ApiKey)
  apiKey!: ApiKey;

  @Field({ description: 'The secret, shown here only: store it now.' })
  secret!: string;
}
