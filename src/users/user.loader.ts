import DataLoader from 'dataloader';
import type { Context } from '../core/context';
import { op } from '../infra/db';
import { UserModel } from './user.model';
import { PUBLIC_PROFILE_FIELDS, PublicUser } from './user.types';

/** One `$in` query for all the users a request asks for (e.g. every owner on a page of items). */
export function userLoader(ctx: Pick<Context, 'loaders'>): DataLoader<string, PublicUser | null> {
  let loader = ctx.loaders.get('publicUser') as DataLoader<string, PublicUser | null> | undefined;
  if (!loader) {
    loader = new DataLoader<string, PublicUser | null>(async (ids) => {
      const users = await UserModel.find({ _id: op({ $in: [...ids] }) }, PUBLIC_PROFILE_FIELDS).lean<PublicUser[]>();
      const byId = new Map(users.map((u) => [String(u._id), u]));
      return ids.map((id) => byId.get(id) ?? null);
    });
    ctx.loaders.set('publicUser', loader);
  }
  return loader;
}
