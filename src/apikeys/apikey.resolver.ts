import { Arg, Ctx, ID, Mutation, Query, Resolver } from 'type-graphql';
import type { Context } from '../core/context';
import { parseObjectId } from '../core/validation';
import { actorOf } from '../users/user.actor';
import { ApiKey } from './apikey.model';
import * as apiKeys from './apikey.service';
import { CreateApiKeyInput } from './apikey.inputs';
import { CreatedApiKey } from './apikey.types';

@Resolver(() => ApiKey)
export class ApiKeyResolver {
  @Query(() => [ApiKey], {
    description:
      "My API keys that are not revoked, newest first; with userId (ADMIN only), that user's keys. Not for API keys.",
  })
  apiKeys(
    @Arg('userId', () => ID, { nullable: true, description: 'ADMIN: whose keys to list (default: mine).' })
    userId: string | null | undefined,
    @Ctx() ctx: Context,
  ): Promise<ApiKey[]> {
    return apiKeys.listApiKeys(userId ? parseObjectId(userId, 'userId') : actorOf(ctx).id);
  }

  @Mutation(() => CreatedApiKey, {
    description:
      'Creates an API key acting as me within its scopes (at most 20 active), or with input.orgId only inside that organization. Not for API keys.',
  })
  createApiKey(
    @Arg('input', () => CreateApiKeyInput) input: CreateApiKeyInput,
    @Ctx() ctx: Context,
  ): Promise<CreatedApiKey> {
    return apiKeys.createApiKey(ctx.config, actorOf(ctx), input, ctx.user?.role === 'ADMIN');
  }

  @Mutation(() => Boolean, {
    description: "Revokes one of my API keys at once (ADMIN: any user's key). Not for API keys.",
  })
  revokeApiKey(@Arg('id', () => ID) id: string, @Ctx() ctx: Context): Promise<boolean> {
    return apiKeys.revokeApiKey({ ...actorOf(ctx), isAdmin: ctx.user?.role === 'ADMIN' }, id);
  }
}
