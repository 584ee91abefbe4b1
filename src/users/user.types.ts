import { Field, Int, ObjectType } from 'type-graphql';
import { PageInfo } from '../core/pagination';
import { User } from './user.model';

@ObjectType('UserEdge')
export class UserEdge {
  @Field()
  cursor!: string;

  @Field(() => User)
  node!: User;
}

@ObjectType('UserConnection')
export class UserConnection {
  @Field(() => [UserEdge])
  edges!: UserEdge[];

  @Field(() => PageInfo)
  pageInfo!: PageInfo;

  @Field(() => Int)
  totalCount!: number;
}
