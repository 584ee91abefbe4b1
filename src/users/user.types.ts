import type { Types } from 'mongoose';
import { Field, ID, ObjectType } from 'type-graphql';
import { connectionTypes } from '../core/pagination';
import { User } from './user.model';

/**
 * What any signed-in user may see of another user (e.g. an item's owner). Email, role and the
 * disabled flag stay on `User`, the private view returned by `me`, `users` and auth payloads.
 */
@ObjectType('PublicUser', { description: 'The public view of a user, as seen by other users.' })
export class PublicUser {
  @Field(() => ID, { name: 'id' })
  readonly _id!: Types.ObjectId;

  @Field(() => String, { nullable: true })
  displayName?: string | null;
}

/** The projection that loads a PublicUser: nothing private ever leaves the database. */
export const PUBLIC_PROFILE_FIELDS = { _id: 1, displayName: 1 } as const;

export const UserConnection = connectionTypes(User, 'User');
