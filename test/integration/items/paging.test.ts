import mongoose from 'mongoose';
import { bearer, signUp } from '../../helpers/auth';
import { codes } from '../../helpers/graphql';
import { startTestServer, type TestServer } from '../../helpers/server';

interface Node {
  id: string;
  name: string;
  price: number | null;
  createdAt: string;
  updatedAt: string;
}
interface Page {
  totalCount: number;
  edges: Array<{ cursor: string; node: Node }>;
  pageInfo: { hasNextPage: boolean; endCursor: string | null };
}

const PAGE = `query($filter: ItemFilter, $orderBy: ItemOrder, $first: Int, $after: String) {
  items(filter: $filter, orderBy: $orderBy, first: $first, after: $after) {
    totalCount edges { cursor node { id name price createdAt updatedAt } } pageInfo { hasNextPage endCursor }
  }
}`;
const CREATE = 'mutation($input: CreateItemInput!) { createItem(input: $input) { id } }';
const TOTAL = 250;

let t: TestServer;
let users: Array<Awaited<ReturnType<typeof signUp>>>;
let auth: Record<string, string>;

/** Seeds through the API, 25 requests at a time; many items share a createdAt millisecond. */
async function seed(): Promise<void> {
  for (let start = 0; start < TOTAL; start += 25) {
    await Promise.all(
      Array.from({ length: 25 }, (_, k) => {
        const i = start + k;
        const owner = users[i % users.length]!;
        const input = {
          name: `${['apple', 'Banana', 'cherry', 'Date'][i % 4]} ${i % 10}`,
          price: i % 5 === 0 ? null : i % 7,
          category: i % 3 === 0 ? 'tools' : 'toys',
          tags: i % 2 === 0 ? ['even', `mod4-${i % 4}`] : ['odd'],
          description: i % 50 === 0 ? 'has a needle inside' : null,
        };
        return t.gql(CREATE, { input }, bearer(owner.accessToken));
      }),
    );
  }
}

async function walk(variables: Record<string, unknown>, first = 37, between?: () => Promise<void>): Promise<Node[]> {
  const nodes: Node[] = [];
  let after: string | null = null;
  for (let guard = 0; guard < 100; guard++) {
    const res = await t.gql<{ items: Page }>(PAGE, { ...variables, first, after }, auth);
    if (!res.body.data) throw new Error(JSON.stringify(res.body.errors));
    const page: Page = res.body.data.items;
    nodes.push(...page.edges.map((e) => e.node));
    if (!page.pageInfo.hasNextPage) return nodes;
    after = page.pageInfo.endCursor;
    await between?.();
  }
  throw new Error('paging did not end');
}

beforeAll(async () => {
  t = await startTestServer({}, undefined, { monitorCommands: true });
  users = await Promise.all([signUp(t), signUp(t), signUp(t)]);
  auth = bearer(users[0]!.accessToken);
  await seed();
}, 60_000);
afterAll(() => t.stop());

const key: Record<string, (n: Node) => number | string> = {
  CREATED_AT: (n) => Date.parse(n.createdAt),
  UPDATED_AT: (n) => Date.parse(n.updatedAt),
  NAME: (n) => n.name.toLowerCase(),
  PRICE: (n) => n.price ?? -1,
};

describe('items: keyset pagination', () => {
  it.each(
    ['CREATED_AT', 'UPDATED_AT', 'NAME', 'PRICE'].flatMap((field) => [
      [field, 'ASC'],
      [field, 'DESC'],
    ]),
  )(
    'walks all %s %s pages, each item exactly once, in a total order with ties broken by id',
    async (field, direction) => {
      const nodes = await walk({ orderBy: { field, direction } });
      expect(nodes).toHaveLength(TOTAL);
      expect(new Set(nodes.map((n) => n.id)).size).toBe(TOTAL);
      const sign = direction === 'ASC' ? 1 : -1;
      const k = key[field!]!;
      const expected = [...nodes].sort((a, b) => {
        const x = k(a);
        const y = k(b);
        if (x !== y) return (x < y ? -1 : 1) * sign;
        return (a.id < b.id ? -1 : 1) * sign;
      });
      expect(nodes.map((n) => n.id)).toEqual(expected.map((n) => n.id));
    },
  );

  it('defaults to 20 items, newest first', async () => {
    const res = await t.gql<{ items: Page }>('{ items { totalCount edges { node { id createdAt } } } }', {}, auth);
    const page = res.body.data!.items;
    expect(page.edges).toHaveLength(20);
    expect(page.totalCount).toBeGreaterThanOrEqual(TOTAL);
    const all = await walk({ orderBy: { field: 'CREATED_AT', direction: 'DESC' } }, 20);
    expect(page.edges.map((e) => e.node.id)).toEqual(all.slice(0, 20).map((n) => n.id));
  });

  it.each([
    ['first over 100', { first: 101 }],
    ['a negative first', { first: -1 }],
    [
      'a cursor from another order',
      { after: 'WzEsIjAxMjM0NTY3ODlhYmNkZWYwMTIzNDU2NyJd', orderBy: { field: 'NAME', direction: 'ASC' } },
    ],
  ])('answers BAD_USER_INPUT for %s', async (_label, variables) => {
    const res = await t.gql(PAGE, variables, auth);
    expect(res.status).toBeLessThan(500);
    expect(codes(res)).toEqual(['BAD_USER_INPUT']);
  });

  it('never repeats or skips an item that existed before paging, while new items are created', async () => {
    const before = await walk({}, 100);
    let n = 0;
    const createSome = async () => {
      await Promise.all([1, 2, 3].map(() => t.gql(CREATE, { input: { name: `late ${n++}` } }, auth)));
    };
    for (const orderBy of [undefined, { field: 'NAME', direction: 'ASC' }, { field: 'CREATED_AT', direction: 'ASC' }]) {
      const seen = await walk({ orderBy }, 30, createSome);
      const ids = seen.map((x) => x.id);
      expect(new Set(ids).size).toBe(ids.length);
      for (const item of before) expect(ids).toContain(item.id);
    }
    // Clean up so the other tests see exactly the seeded items.
    await mongoose.connection.db!.collection('items').deleteMany({ name: { $regex: '^late ' } });
  });
});

describe('items: filters', () => {
  const count = async (filter: Record<string, unknown>) => {
    const res = await t.gql<{ items: Page }>(PAGE, { filter, first: 1 }, auth);
    if (!res.body.data) throw new Error(JSON.stringify(res.body.errors));
    return res.body.data.items.totalCount;
  };

  it('combines category, tags, owner and mine with pagination; totalCount counts every match', async () => {
    const filter = { category: 'tools', tags: ['even'], ownerId: users[1]!.user.id };
    // i % 3 === 0, i even, i % 3 (owner index) === 1: no i satisfies both i%3==0 and i%3==1.
    expect(await count(filter)).toBe(0);
    const evenTools = Array.from({ length: TOTAL }, (_, i) => i).filter((i) => i % 3 === 0 && i % 2 === 0);
    const nodes = await walk({ filter: { category: 'tools', tags: ['EVEN '] } }, 7);
    expect(nodes).toHaveLength(evenTools.length);
    expect(await count({ category: 'tools', tags: ['even'] })).toBe(evenTools.length);
    expect(await count({ tags: ['even', 'mod4-2'] })).toBe(
      Array.from({ length: TOTAL }, (_, i) => i).filter((i) => i % 4 === 2).length,
    );
    const mine = Array.from({ length: TOTAL }, (_, i) => i).filter((i) => i % 3 === 0).length;
    expect(await count({ mine: true })).toBe(mine);
    expect(await count({ ownerId: users[0]!.user.id })).toBe(mine);
    expect((await walk({ filter: { mine: true, category: 'tools' } }, 11)).length).toBe(mine);
  });

  it('searches name and description case-insensitively', async () => {
    expect(await count({ search: 'BANANA' })).toBe(
      Array.from({ length: TOTAL }, (_, i) => i).filter((i) => i % 4 === 1).length,
    );
    expect(await count({ search: 'NEEDLE' })).toBe(TOTAL / 50);
  });

  it('matches regular-expression characters literally', async () => {
    const specials = ['a.b', 'a+b', '(x)', '[y]', 'star*', 'back\\slash', '^caret$', 'q?'];
    for (const name of specials) await t.gql(CREATE, { input: { name } }, auth);
    for (const name of specials) expect(await count({ search: name })).toBe(1);
    expect(await count({ search: '.*' })).toBe(0);
    expect(await count({ search: 'a.b' })).toBe(1);
    await mongoose.connection.db!.collection('items').deleteMany({ name: { $in: specials } });
  });

  it('refuses a search over the length limit, and treats operator-looking text literally', async () => {
    const res = await t.gql(PAGE, { filter: { search: 's'.repeat(101) } }, auth);
    expect(codes(res)).toEqual(['BAD_USER_INPUT']);
    expect(res.body.errors![0]!.extensions!.field).toBe('search');
    expect(await count({ category: '{"$ne":null}' })).toBe(0);
    expect(await count({ tags: ['$ne'] })).toBe(0);
  });
});

describe('items: database round trips', () => {
  it('reads a page of 50 items with their owners in a constant number of queries', async () => {
    const client = mongoose.connection.getClient();
    const seen: string[] = [];
    const ownerProjections: unknown[] = [];
    const listener = (e: { commandName: string; command: Record<string, unknown> }) => {
      if (['find', 'aggregate', 'count'].includes(e.commandName))
        seen.push(`${e.commandName}:${String(e.command[e.commandName])}`);
      const filter = e.command.filter as { _id?: { $in?: unknown } } | undefined;
      if (e.commandName === 'find' && e.command.find === 'users' && filter?._id?.$in)
        ownerProjections.push(e.command.projection);
    };
    client.on('commandStarted', listener);
    try {
      const query = (withCount: boolean) =>
        `{ items(first: 50) { ${withCount ? 'totalCount' : ''} edges { node { id name owner { id } } } } }`;
      const res = await t.gql<{ items: { edges: Array<{ node: { owner: { id: string } } }> } }>(query(true), {}, auth);
      expect(res.body.data!.items.edges).toHaveLength(50);
      expect(new Set(res.body.data!.items.edges.map((e) => e.node.owner.id)).size).toBe(3);
      // The caller's token check (user and session, in parallel), one page query, one count and
      // one batched owner lookup.
      expect(seen.sort()).toEqual(
        ['aggregate:items', 'find:items', 'find:sessions', 'find:users', 'find:users'].sort(),
      );
      seen.length = 0;
      await t.gql(query(false), {}, auth);
      expect(seen.sort()).toEqual(['find:items', 'find:sessions', 'find:users', 'find:users']);
      // Owners are PublicUsers: their lookup reads nothing but the id and the display name.
      expect(ownerProjections).toEqual([
        { _id: 1, displayName: 1 },
        { _id: 1, displayName: 1 },
      ]);
    } finally {
      client.off('commandStarted', listener);
    }
  });
});
