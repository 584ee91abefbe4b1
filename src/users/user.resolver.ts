import { Arg, Ctx, FieldResolver, ID, Int, Mutation, Query, Resolver, Root } from 'type-graphql';
import type { Context } from '../core/context';
import type { Connection } from '../core/pagination';
import { Role, User } from './user.model';
import * as userService from './user.service';
import { UpdateProfileInput } from './user.inputs';
import { updateProfile } from './user.profile';
import { UserConnection } from './user.types';
import { actorOf } from './user.actor';

@Resolver(() => User)
export class UserResolver {
  @Query(() => User, { nullable: true, description: 'The signed-in user; null when anonymous.' })
  async me(@Ctx() ctx: Context): Promise<User | null> {
    if (!ctx.user) return null;
    // Authentication already read this user, this request, with the same fields.
    return ctx.account ?? userService.findById(ctx.user.id);
  }

  @Mutation(() => User, { description: 'Changes my profile (display name).' })
  updateProfile(@Arg('input', () => UpdateProfileInput) input: UpdateProfileInput, @Ctx() ctx: Context): Promise<User> {
    return updateProfile(actorOf(ctx).id, { ...input });
  }

  @FieldResolver(() => Boolean)
  emailVerified(@Root() user: User): boolean {
    return user.emailVerified ?? false;
  }

  @FieldResolver(() => Boolean)
  hasPassword(@Root() user: User): boolean {
    return user.hasPassword !== false;
  }

  @Query(() => UserConnection, { description: 'ADMIN: every user, oldest first.' })
  users(
    @Arg('first', () => Int, { nullable: true }) first: number | null,
    @Arg('after', () => String, { nullable: true }) after: string | null,
  ): Promise<Connection<User>> {
    return userService.listUsers(first, after);
  }

  @Mutation(() => User, { description: 'ADMIN: changes a role; applies from the next request.' })
  setUserRole(
    @Arg('userId', () => ID) userId: string,
    @Arg('role', () => Role) role: Role,
    @Ctx() ctx: Context,
  ): Promise<User> {
    return userService.setUserRole(actorOf(ctx), userId, role);
  }

  @Mutation(() => User, { description: 'ADMIN: disables (revoking all tokens) or re-enables a user.' })
  setUserDisabled(
    @Arg('userId', () => ID) userId: string,
    @Arg('disabled', () => Boolean) disabled: boolean,
    @Ctx() ctx: Context,
  ): Promise<User> {
    return userService.setUserDisabled(actorOf(ctx), userId, disabled);
  }

  @Mutation(() => User, { description: 'ADMIN: clears a login lockout.' })
  unlockUser(@Arg('userId', () => ID) userId: string, @Ctx() ctx: Context): Promise<User> {
    return userService.unlockUser(actorOf(ctx), userId);
  }
}
