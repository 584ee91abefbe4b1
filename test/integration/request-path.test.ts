import { readFileSync } from 'node:fs';
import path from 'node:path';
import { buildSchema, type GraphQLObjectType } from 'graphql';
import mongoose from 'mongoose';
import { USER_VIEW_FIELDS, UserModel } from '../../src/users/user.model';
import { basic, bearer, signUp } from '../helpers/auth';
import { codes, type GraphQLResponse } from '../helpers/graphql';
import { startTestServer, type TestServer } from '../helpers/server';

let t: TestServer;

beforeAll(async () => {
  // No housekeeping timer: only the request's own commands reach the database while counting.
  t = await startTestServer({ SESSION_CLEANUP_INTERVAL_SECONDS: '0' }, undefined, { monitorCommands: true });
});
afterAll(() => t.stop());

/** Every User field the schema declares, as a selection (so a field added later is covered too). */
const userFields = (() => {
  const sdl = readFileSync(path.join(__dirname, '../../schema/schema.graphql'), 'utf8');
  const type = buildSchema(sdl).getType('User') as GraphQLObjectType;
  return Object.keys(type.getFields());
})();
const ME_ALL = `{ me { ${userFields.join(' ')} } }`;

/** The commands (name:collection) the server sends while `run` runs, the mail worker's polling left out. */
async function commandsOf(run: () => Promise<unknown>): Promise<string[]> {
  const client = mongoose.connection.getClient();
  const seen: string[] = [];
  const listener = (e: { commandName: string; command: Record<string, unknown> }) => {
    const target = String(e.command[e.commandName]);
    if (target.startsWith('mail')) return;
    seen.push(`${e.commandName}:${target}`);
  };
  client.on('commandStarted', listener);
  try {
    await run();
  } finally {
    client.off('commandStarted', listener);
  }
  return seen.sort();
}

describe('request path: me reuses what authentication read', () => {
  it('answers a Bearer `me` with one user read and one session read, no second read of the user', async () => {
    const u = await signUp(t);
    const profile = await t.gql(
      'mutation { updateProfile(input: { displayName: "Ada L." }) { id } }',
      {},
      bearer(u.accessToken),
    );
    expect(profile.body.errors).toBeUndefined();

    let res: GraphQLResponse<{ me: Record<string, unknown> | null }> | undefined;
    const seen = await commandsOf(async () => {
      res = await t.gql(ME_ALL, {}, bearer(u.accessToken));
    });
    expect(res!.status).toBe(200);
    expect(res!.body.errors).toBeUndefined();
    expect(seen).toEqual(['find:sessions', 'find:users']);

    // Every field the User type resolves comes back as stored: none was lost to the projection.
    const stored = await UserModel.findById(u.user.id).lean();
    const me = res!.body.data!.me as Record<string, unknown>;
    expect(me).toMatchObject({
      id: u.user.id,
      email: stored!.email,
      displayName: 'Ada L.',
      emailVerified: false,
      role: 'USER',
      disabled: false,
      createdAt: stored!.createdAt.toISOString(),
    });
    // Fields added to User later: as stored, whenever the document holds them.
    for (const field of userFields) {
      const value = (stored as unknown as Record<string, unknown>)[field];
      if (field !== 'createdAt' && value !== undefined && typeof value !== 'object') expect(me[field]).toEqual(value);
    }
  });

  it('reads every field the User type declares in the authentication read (USER_VIEW_FIELDS)', () => {
    // `me` answers from authentication's read, projected with USER_VIEW_FIELDS: a field declared
    // on User but missing there would come back empty.
    for (const field of userFields) expect(field === 'id' || field in USER_VIEW_FIELDS).toBe(true);
  });

  it('answers a cached Basic `me` with a single user read', async () => {
    const u = await signUp(t);
    const auth = basic(u.email, u.password);
    const first = await t.gql<{ me: { id: string } }>(ME_ALL, {}, auth);
    expect(first.body.data!.me.id).toBe(u.user.id);
    let res: GraphQLResponse<{ me: Record<string, unknown> | null }> | undefined;
    const seen = await commandsOf(async () => {
      res = await t.gql(ME_ALL, {}, auth);
    });
    expect(res!.body.data!.me!.id).toBe(u.user.id);
    expect(seen).toEqual(['find:users']);
  });

  it('still refuses the token of a disabled user, and answers anonymous `me` with null and no read', async () => {
    const u = await signUp(t);
    await UserModel.updateOne({ _id: u.user.id }, { $set: { disabled: true } });
    const refused = await t.gql(ME_ALL, {}, bearer(u.accessToken));
    expect(refused.status).toBe(401);
    expect(codes(refused)).toEqual(['UNAUTHENTICATED']);

    let res: GraphQLResponse<{ me: Record<string, unknown> | null }> | undefined;
    const seen = await commandsOf(async () => {
      res = await t.gql(ME_ALL);
    });
    expect(res!.body.data).toEqual({ me: null });
    expect(seen).toEqual([]);
  });
});
