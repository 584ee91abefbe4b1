import type { GraphQLResolveInfo } from 'graphql';
import { Arg, Ctx, FieldResolver, ID, Info, Int, Mutation, Query, Resolver, Root } from 'type-graphql';
import { requireUser, type Context } from '../core/context';
import type { Connection } from '../core/pagination';
import { selectsField } from '../core/selection';
import { Organization } from '../orgs/org.model';
import { PublicUser } from '../users/user.types';
import { userLoader } from '../users/user.loader';
import { organizationLoader } from './item.access';
import { CreateItemInput, ItemFilter, ItemOrder, UpdateItemInput } from './item.inputs';
import { ItemConnection } from './item.types';
import { Item } from './item.model';
import { findItem, listItems } from './item.list';
import * as items from './item.service';

@Resolver(() => Item)
export class ItemResolver {
  @Query(() => Item, {
    nullable: true,
    description: "One item; null when it does not exist or is an organization's I am not a member of.",
  })
  item(@Arg('id', () => ID) id: string, @Ctx() ctx: Context): Promise<Item | null> {
    return findItem(ctx, requireUser(ctx), id);
  }

  @Query(() => ItemConnection, {
    description:
      "Items, newest first unless ordered otherwise; keyset-paged. Personal items, or with filter.orgId that organization's.",
  })
  items(
    @Ctx() ctx: Context,
    @Arg('filter', () => ItemFilter, { nullable: true }) filter: ItemFilter | null,
    @Arg('orderBy', () => ItemOrder, { nullable: true }) orderBy: ItemOrder | null,
    @Arg('first', () => Int, { nullable: true, description: '20 when omitted, at most 100.' }) first: number | null,
    @Arg('after', () => String, { nullable: true }) after: string | null,
    @Info() info: GraphQLResolveInfo,
  ): Promise<Connection<Item>> {
    // Counting is a second query over every match: only run it when totalCount is asked for.
    const count = selectsField(info, 'totalCount');
    return listItems(requireUser(ctx), { filter, orderBy, first, after }, { count });
  }

  @Mutation(() => Item, {
    description:
      "Creates an item owned by the caller: personal, or with input.orgId (MEMBER or above) that organization's.",
  })
  createItem(@Arg('input', () => CreateItemInput) input: CreateItemInput, @Ctx() ctx: Context): Promise<Item> {
    return items.createItem(ctx.config, requireUser(ctx), { ...input });
  }

  @Mutation(() => Item, {
    description:
      'Owner or ADMIN (of an organization: its ADMIN or OWNER; a MEMBER their own). With expectedVersion, applies only if the version still matches (else CONFLICT).',
  })
  updateItem(
    @Arg('id', () => ID) id: string,
    @Arg('input', () => UpdateItemInput) input: UpdateItemInput,
    @Arg('expectedVersion', () => Int, { nullable: true }) expectedVersion: number | null,
    @Ctx() ctx: Context,
  ): Promise<Item> {
    return items.updateItem(ctx, ctx.config, requireUser(ctx), id, { ...input }, expectedVersion);
  }

  @Mutation(() => ID, {
    description: 'Owner or ADMIN (of an organization: its ADMIN or OWNER; a MEMBER their own). Returns the deleted id.',
  })
  deleteItem(@Arg('id', () => ID) id: string, @Ctx() ctx: Context): Promise<string> {
    return items.deleteItem(ctx, ctx.config, requireUser(ctx), id);
  }

  @FieldResolver(() => PublicUser, { description: 'Who created the item (public fields only).' })
  async owner(@Root() item: Item, @Ctx() ctx: Context): Promise<PublicUser> {
    const owner = await userLoader(ctx).load(item.ownerId);
    // The owner is being deleted, or deleted their account and this is an organization's item
    // (it stays): show the id without a name rather than failing the whole page.
    return owner ?? ({ _id: item.ownerId, displayName: null } as unknown as PublicUser);
  }

  @FieldResolver(() => Organization, {
    nullable: true,
    description: 'The organization the item belongs to; null for a personal item.',
  })
  organization(@Root() item: Item, @Ctx() ctx: Context): Promise<Organization | null> {
    // Whoever sees the item sees its organization; one read per request for a whole page.
    return item.orgId ? organizationLoader(ctx).load(item.orgId) : Promise.resolve(null);
  }
}
