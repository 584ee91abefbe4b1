import { Ctx, Query, Resolver } from 'type-graphql';
import type { Context } from '../context';
import { User } from './user.model';
import * as userService from './user.service';

@Resolver(() => User)
export class UserResolver {
  @Query(() => User, { nullable: true, description: 'The signed-in user; null when anonymous.' })
  async me(@Ctx() ctx: Context): Promise<User | null> {
    return ctx.user ? userService.findById(ctx.user.id) : null;
  }
}
