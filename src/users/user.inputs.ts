import { Field, InputType } from 'type-graphql';

@InputType('UpdateProfileInput', { description: 'Only the fields given change; null clears displayName.' })
export class UpdateProfileInput {
  @Field(() => String, {
    nullable: true,
    description: '1 to 100 characters after trimming, no control characters, no web or email address.',
  })
  displayName?: string | null;
}
