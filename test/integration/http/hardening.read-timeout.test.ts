import { randomBytes } from 'node:crypto';
import { MongoClient, ObjectId } from 'mongodb';
import mongoose from 'mongoose';
import { withDatabaseName } from '../../../src/infra/db';
import { bearer, signUp } from '../../helpers/auth';
import { codes, type GraphQLResponse } from '../../helpers/graphql';
import { startTestServer, testDatabaseName, type TestServer } from '../../helpers/server';

/**
 * Every database read a request makes carries a time limit (DB_QUERY_TIMEOUT_MS, sent as
 * maxTimeMS): a read that runs past it answers 503 SERVICE_UNAVAILABLE with Retry-After, never
 * INTERNAL_SERVER_ERROR, and never runs on for as long as the database would take.
 *
 * A read is made slow for real: 10 000 items of ~5 kB each, searched for text none of them holds
 * (no index serves a substring search, so every document is read). The limit is then chosen from
 * what this engine on this machine takes, measured before the server starts: a quarter of the
 * slow read (the fastest of two runs), and at least ten times the slowest of a few reads by _id
 * (which is what authentication does), so neither side of the limit depends on the machine.
 */
const ITEMS = 10_000;
const SEARCH = 'no item holds this text';
const searchFilter = {
  $or: [{ name: { $regex: SEARCH, $options: 'i' } }, { description: { $regex: SEARCH, $options: 'i' } }],
};

async function timed(run: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await run();
  return performance.now() - started;
}

describe('DB_QUERY_TIMEOUT_MS: a read past its time limit', () => {
  let t: TestServer;
  let token: string;

  beforeAll(async () => {
    const uri = withDatabaseName(process.env.TEST_MONGODB_URI!, testDatabaseName());
    const client = await MongoClient.connect(uri);
    let limitMs: number;
    try {
      const items = client.db().collection('items');
      const description = `${'lorem ipsum dolor sit amet, consectetur adipiscing elit '.repeat(85)}`.slice(0, 4800);
      const ownerId = new ObjectId().toHexString();
      for (let i = 0; i < ITEMS; i += 1000) {
        const now = new Date();
        await items.insertMany(
          Array.from({ length: 1000 }, (_, j) => ({
            name: `seeded ${i + j} ${randomBytes(4).toString('hex')}`,
            nameKey: `seeded ${i + j}`,
            description,
            category: null,
            tags: [],
            price: null,
            priceKey: -1,
            quantity: 0,
            version: 1,
            ownerId,
            counted: false,
            createdAt: now,
            updatedAt: now,
          })),
        );
      }
      const slow = Math.min(
        await timed(() => items.countDocuments(searchFilter)),
        await timed(() => items.countDocuments(searchFilter)),
      );
      const ids = (await items.find({}, { projection: { _id: 1 }, limit: 5 }).toArray()).map((d) => d._id);
      let fast = 0;
      for (const _id of ids) fast = Math.max(fast, await timed(() => items.findOne({ _id })));
      limitMs = Math.floor(slow / 4);
      // The precondition of this file: a slow read far above the limit, reads by _id far below it.
      expect(limitMs).toBeGreaterThanOrEqual(10 * fast);
    } finally {
      await client.close();
    }
    t = await startTestServer({ MONGODB_URI: uri, DB_QUERY_TIMEOUT_MS: String(limitMs) });
    token = (await signUp(t)).accessToken;
  }, 180_000);
  afterAll(() => t?.stop());

  function expectUnavailable(res: GraphQLResponse): void {
    expect([res.status, codes(res)]).toEqual([503, ['SERVICE_UNAVAILABLE']]);
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(res.body.data ?? null).toBeNull();
  }

  it('answers a count of a search over every item with 503 SERVICE_UNAVAILABLE and Retry-After', async () => {
    const res = await t.gql(`{ items(first: 0, filter: { search: "${SEARCH}" }) { totalCount } }`, {}, bearer(token));
    expectUnavailable(res);
  });

  it('answers a page of that search the same way', async () => {
    const res = await t.gql(
      `{ items(first: 5, filter: { search: "${SEARCH}" }) { edges { node { id } } } }`,
      {},
      bearer(token),
    );
    expectUnavailable(res);
  });

  it('still answers reads that stay within the limit (authentication and me)', async () => {
    const res = await t.gql('{ me { id } }', {}, bearer(token));
    expect([res.status, res.body.errors]).toEqual([200, undefined]);
  });
});

/** The commands that read: each must carry the time limit. */
const READS = new Set(['find', 'aggregate', 'count', 'distinct']);

describe('DB_QUERY_TIMEOUT_MS: every read carries it', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer({ DB_QUERY_TIMEOUT_MS: '4321' }, undefined, { monitorCommands: true });
  });
  afterAll(() => t.stop());

  it('sends maxTimeMS with every read of authentication, items, their owners, sessions and API keys', async () => {
    const client = mongoose.connection.getClient();
    const reads: Array<{ command: string; maxTimeMS: unknown }> = [];
    const listener = (e: { commandName: string; command: Record<string, unknown> }) => {
      if (!READS.has(e.commandName)) return;
      // The mail worker polls in the background: its reads carry the limit too.
      reads.push({ command: `${e.commandName}:${String(e.command[e.commandName])}`, maxTimeMS: e.command.maxTimeMS });
    };
    client.on('commandStarted', listener);
    try {
      const user = await signUp(t);
      const auth = bearer(user.accessToken);
      const created = await t.gql<{ createItem: { id: string } }>(
        'mutation { createItem(input: { name: "timed" }) { id } }',
        {},
        auth,
      );
      const id = created.body.data!.createItem.id;
      for (const query of [
        '{ me { id } sessions { id } apiKeys { id } }',
        '{ items(first: 5, filter: { mine: true, search: "timed" }) { totalCount edges { node { id owner { id } } } } }',
        `{ item(id: "${id}") { id name } }`,
      ]) {
        const res = await t.gql(query, {}, auth);
        expect([res.status, res.body.errors]).toEqual([200, undefined]);
      }
    } finally {
      client.off('commandStarted', listener);
    }
    const seen = new Set(reads.map((r) => r.command));
    for (const command of ['find:users', 'find:sessions', 'find:items', 'aggregate:items', 'find:api_keys'])
      expect([command, seen.has(command)]).toEqual([command, true]);
    expect(reads.filter((r) => r.maxTimeMS !== 4321)).toEqual([]);
  });
});
