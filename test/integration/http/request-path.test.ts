import { readFileSync } from 'node:fs';
import path from 'node:path';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { buildSchema, type GraphQLObjectType } from 'graphql';
import helmet from 'helmet';
import mongoose from 'mongoose';
import { USER_VIEW_FIELDS, UserModel } from '../../../src/users/user.model';
import { basic, bearer, signUp } from '../../helpers/auth';
import { codes, type GraphQLResponse } from '../../helpers/graphql';
import { startTestServer, type TestServer } from '../../helpers/server';

let t: TestServer;

beforeAll(async () => {
  // No housekeeping timer: only the request's own commands reach the database while counting.
  t = await startTestServer({ SESSION_CLEANUP_INTERVAL_SECONDS: '0' }, undefined, { monitorCommands: true });
});
afterAll(() => t.stop());

/** Every User field the schema declares, as a selection (so a field added later is covered too). */
const userFields = (() => {
  const sdl = readFileSync(path.join(__dirname, '../../../schema/schema.graphql'), 'utf8');
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

/**
 * The read limit counts in the process and writes its counts behind (DeferredWindowCounter):
 * waits until `count` reads of the user are in the database, so that no such write is left to
 * land while the next request is measured.
 */
async function readsWritten(userId: string, count: number): Promise<void> {
  const counters = mongoose.connection.db!.collection<{ _id: string; count: number }>('rate_limits');
  for (let waited = 0; waited < 5000; waited += 20) {
    if ((await counters.findOne({ _id: `read:user:${userId}` }))?.count === count) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`the read count of ${userId} did not reach ${count}`);
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
    await readsWritten(u.user.id, 1);

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
    await readsWritten(u.user.id, 1);
    let res: GraphQLResponse<{ me: Record<string, unknown> | null }> | undefined;
    const seen = await commandsOf(async () => {
      res = await t.gql(ME_ALL, {}, auth);
    });
    expect(res!.body.data!.me!.id).toBe(u.user.id);
    expect(seen).toEqual(['find:users']);
    await readsWritten(u.user.id, 2);
  });

  it('still refuses the token of a disabled user, and answers anonymous `me` with null and no read', async () => {
    const u = await signUp(t);
    await UserModel.updateOne({ _id: u.user.id }, { $set: { disabled: true } });
    const refused = await t.gql(ME_ALL, {}, bearer(u.accessToken));
    expect(refused.status).toBe(401);
    expect(codes(refused)).toEqual(['UNAUTHENTICATED']);

    // No read is left to write: the refused token counted none, and the tests above waited for theirs.
    let res: GraphQLResponse<{ me: Record<string, unknown> | null }> | undefined;
    const seen = await commandsOf(async () => {
      res = await t.gql(ME_ALL);
    });
    expect(res!.body.data).toEqual({ me: null });
    expect(seen).toEqual([]);
  });
});

describe('request path: work done once, checks kept', () => {
  it('sends exactly the headers helmet sets on every API response (computed once, replayed)', async () => {
    const app = express();
    app.disable('x-powered-by');
    app.use(helmet());
    app.get('/', (_req, res) => void res.json({}));
    const server = http.createServer(app);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const { port } = server.address() as AddressInfo;
      const expected = (await fetch(`http://127.0.0.1:${port}/`)).headers;
      const names = [...expected.keys()].filter(
        (n) => !['content-type', 'content-length', 'date', 'connection', 'keep-alive', 'etag'].includes(n),
      );
      expect(names.length).toBeGreaterThan(8);
      const u = await signUp(t);
      for (const res of [await t.gql(ME_ALL, {}, bearer(u.accessToken)), await t.gql('{ nope }')]) {
        for (const name of names) expect([name, res.headers.get(name)]).toEqual([name, expected.get(name)]);
        expect(res.headers.get('x-powered-by')).toBeNull();
      }
    } finally {
      await new Promise((r) => server.close(r));
    }
  });

  it('refuses a document over the token limit every time it is sent, after one under it passed', async () => {
    const u = await signUp(t);
    const small = `{ ${'me { id } '.repeat(10)} }`;
    const big = `{ ${'me { id } '.repeat(260)} }`;
    for (const query of [small, big, small, big]) {
      const res = await t.gql(query, {}, bearer(u.accessToken));
      if (query === small) expect([res.status, res.body.errors]).toEqual([200, undefined]);
      else expect([res.status, codes(res)]).toEqual([400, ['GRAPHQL_VALIDATION_FAILED']]);
    }
  });

  it('refuses an over-cost document every time, with or without variables, while its cheap twin passes', async () => {
    const u = await signUp(t);
    const page = (first: string) =>
      `items(first: ${first}) { edges { node { id name tags owner { id displayName } } } }`;
    // 15 aliased pages of 100 cost far over MAX_COST; of 1, far under it.
    const literal = (first: string) => `{ ${Array.from({ length: 15 }, (_, i) => `p${i}: ${page(first)}`).join(' ')} }`;
    const withVariable = `query($f: Int) ${literal('$f')}`;
    for (let round = 0; round < 2; round++) {
      const costly = await t.gql(literal('100'), {}, bearer(u.accessToken));
      expect([costly.status, codes(costly)]).toEqual([400, ['GRAPHQL_VALIDATION_FAILED']]);
      const cheap = await t.gql(literal('1'), {}, bearer(u.accessToken));
      expect([cheap.status, cheap.body.errors]).toEqual([200, undefined]);
      const byVariable = await t.gql(withVariable, { f: round === 0 ? 100 : 1 }, bearer(u.accessToken));
      expect(byVariable.status).toBe(round === 0 ? 400 : 200);
    }
  });
});

describe('request path: one caller’s parallel writes share their counter round trips', () => {
  it('counts 10 parallel createItem requests exactly, with fewer than 10 writes to each counter', async () => {
    const u = await signUp(t);
    const create = (i: number) =>
      t.gql(`mutation { createItem(input: { name: "parallel ${i}" }) { id } }`, {}, bearer(u.accessToken));
    await create(-1); // opens the quota document and the write-limit window
    // Ten open keep-alive connections, so the ten creations below arrive together.
    await Promise.all(Array.from({ length: 10 }, () => t.gql(ME_ALL, {}, bearer(u.accessToken))));
    await readsWritten(u.user.id, 10);
    const client = mongoose.connection.getClient();
    const writes: string[] = [];
    const listener = (e: { commandName: string; command: Record<string, unknown> }) => {
      const target = String(e.command[e.commandName]);
      const write = e.commandName !== 'find' && e.commandName !== 'aggregate';
      // This caller's write-limit counter, not the read counts of others written behind meanwhile.
      const counter = target === 'item_quotas' || JSON.stringify(e.command).includes(`itemWrite:user:${u.user.id}`);
      if (write && counter) writes.push(`${e.commandName}:${target}`);
    };
    client.on('commandStarted', listener);
    let results: GraphQLResponse[];
    try {
      results = await Promise.all(Array.from({ length: 10 }, (_, i) => create(i)));
    } finally {
      client.off('commandStarted', listener);
    }
    for (const res of results) expect([res.status, res.body.errors]).toEqual([200, undefined]);
    const db = mongoose.connection.db!;
    const counter = await db.collection('rate_limits').findOne({ _id: `itemWrite:user:${u.user.id}` as never });
    const quota = await db.collection('item_quotas').findOne({ _id: u.user.id as never });
    expect(counter!.count).toBe(11);
    expect(quota!.used).toBe(11);
    expect(await db.collection('items').countDocuments({ ownerId: u.user.id })).toBe(11);
    // Without joining, each request sends one write to each counter: 10 and 10.
    const rate = writes.filter((w) => w.endsWith(':rate_limits')).length;
    const quotas = writes.filter((w) => w.endsWith(':item_quotas')).length;
    expect(rate).toBeLessThan(10);
    expect(quotas).toBeLessThan(10);
  });
});
