import { Field, InputType } from 'type-graphql';

@InputType('CreateOrganizationInput')
export class CreateOrganizationInput {
  @Field({ description: '1 to 100 characters.' })
  name!: string;

  @Field({
    description:
      'Unique: ASCII lower-case letters, digits and single hyphens, not at either end, 3 to 40 characters (never lower-cased for you).',
  })
  slug!: string;
}
