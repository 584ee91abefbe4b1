import DataLoader from 'dataloader';
import type { Context } from '../context';
import { op } from '../core/db';
import { PUBLIC_USER_FIELDS, User, UserModel } from './user.model';

/** One `$in` query for all the users a request asks for (e.g. every owner on a page of items). */
export function userLoader(ctx: Pick<Context, 'loaders'>): DataLoader<string, User | null> {
  let loader = ctx.loaders.get('user') as DataLoader<string, User | null> | undefined;
  if (!loader) {
    loader = new DataLoader<string, User | null>(async (ids) => {
      const users = await UserModel.find({ _id: op({ $in: [...ids] }) }, PUBLIC_USER_FIELDS).lean<User[]>();
      const byId = new Map(users.map((u) => [String(u._id), u]));
      return ids.map((id) => byId.get(id) ?? null);
    });
    ctx.loaders.set('user', loader);
  }
  return loader;
}
