import { Arg, Ctx, ID, Mutation, Resolver } from 'type-graphql';
import type { Context } from '../context';
import { UnauthenticatedError } from '../core/errors';
import { clientInfo } from '../core/http';
import type { Actor } from '../users/user.service';
import * as deletion from './account-deletion.service';

/** The signed-in caller (shield guarantees one on these fields). */
function actor(ctx: Context): Actor {
  if (!ctx.user) throw new UnauthenticatedError();
  return { id: ctx.user.id, ...clientInfo(ctx.req), logger: ctx.logger };
}

@Resolver()
export class AccountResolver {
  @Mutation(() => Boolean, {
    description: 'Deletes my account, my sessions and my items; the email becomes free. Needs my password.',
  })
  deleteAccount(@Arg('currentPassword', () => String) currentPassword: string, @Ctx() ctx: Context): Promise<boolean> {
    return deletion.deleteAccount(ctx.config, actor(ctx), currentPassword);
  }

  @Mutation(() => Boolean, { description: 'ADMIN: deletes a user with its sessions and items.' })
  deleteUser(@Arg('userId', () => ID) userId: string, @Ctx() ctx: Context): Promise<boolean> {
    return deletion.deleteUser(actor(ctx), userId);
  }
}
