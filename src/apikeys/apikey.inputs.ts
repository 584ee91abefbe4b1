import { Field, ID, InputType, Int } from 'type-graphql';
import { ApiKeyScope } from './apikey.model';

@InputType('CreateApiKeyInput')
export class CreateApiKeyInput {
  @Field({ description: '1 to 100 characters.' })
  name!: string;

  @Field(() => [ApiKeyScope], { description: 'At least one.' })
  scopes!: ApiKeyScope[];

  @Field(() => Int, { nullable: true, description: 'Days until the key expires, 1 to 365; none: it never expires.' })
  expiresInDays?: number | null;

  @Field(() => ID, {
    nullable: true,
    description:
      'A key that acts only inside this organization (I must be a member): on its items only, with my role there at each request, and refused (401) once I am no longer a member.',
  })
  orgId?: string | null;
}
