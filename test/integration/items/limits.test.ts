import mongoose from 'mongoose';
import { bearer, logIn, signUp, strongPassword, uniqueEmail } from '../../helpers/auth';
import { codes, type GraphQLResponse } from '../../helpers/graphql';
import { startTestServer, type TestServer } from '../../helpers/server';

const CREATE = 'mutation($input: CreateItemInput!) { createItem(input: $input) { id } }';
const UPDATE = 'mutation($id: ID!, $input: UpdateItemInput!) { updateItem(id: $id, input: $input) { id version } }';
const DELETE = 'mutation($id: ID!) { deleteItem(id: $id) }';
const GET = 'query($id: ID!) { item(id: $id) { id name version } }';

type User = Awaited<ReturnType<typeof signUp>>;

const items = () => mongoose.connection.db!.collection('items');
const ownedBy = (user: { user: { id: string } }) => items().countDocuments({ ownerId: user.user.id });

function expectLimited(res: GraphQLResponse): void {
  expect(codes(res)).toContain('TOO_MANY_REQUESTS');
  expect(res.status).toBe(429);
  const retryAfter = Number(res.headers.get('retry-after'));
  expect(retryAfter).toBeGreaterThanOrEqual(1);
  expect(retryAfter).toBeLessThanOrEqual(60);
}

describe('the per-user item write rate limit (WRITE_RATE_LIMIT_PER_USER)', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer({ WRITE_RATE_LIMIT_PER_USER: '4', RATE_LIMIT_WINDOW_SECONDS: '60' });
  });
  afterAll(() => t.stop());

  async function create(user: User, name = 'Lamp'): Promise<string> {
    const res = await t.gql<{ createItem: { id: string } }>(CREATE, { input: { name } }, bearer(user.accessToken));
    expect(res.body.errors).toBeUndefined();
    return res.body.data!.createItem.id;
  }

  it('counts createItem, updateItem and deleteItem together and answers 429 with Retry-After past the limit', async () => {
    const alice = await signUp(t);
    const kept = await create(alice);
    const gone = await create(alice);
    expect(codes(await t.gql(UPDATE, { id: kept, input: { name: 'Desk lamp' } }, bearer(alice.accessToken)))).toEqual(
      [],
    );
    expect(codes(await t.gql(DELETE, { id: gone }, bearer(alice.accessToken)))).toEqual([]);

    // The fifth write in the window is refused, whichever mutation it is, and changes nothing.
    const update = await t.gql(UPDATE, { id: kept, input: { name: 'Refused' } }, bearer(alice.accessToken));
    expectLimited(update);
    expectLimited(await t.gql(CREATE, { input: { name: 'Refused' } }, bearer(alice.accessToken)));
    expectLimited(await t.gql(DELETE, { id: kept }, bearer(alice.accessToken)));
    const read = await t.gql(GET, { id: kept }, bearer(alice.accessToken));
    expect(read.body.data!.item).toMatchObject({ name: 'Desk lamp', version: 2 });
    expect(await ownedBy(alice)).toBe(1);
  });

  it('keys the limit by user: another user can still write', async () => {
    const [carol, dave] = await Promise.all([signUp(t), signUp(t)]);
    for (let i = 0; i < 4; i++) await create(carol, `Carol ${i}`);
    expectLimited(await t.gql(CREATE, { input: { name: 'One more' } }, bearer(carol.accessToken)));
    await create(dave);
    // Reads are not limited.
    expect(
      (await t.gql('{ items(filter: { mine: true }) { totalCount } }', {}, bearer(carol.accessToken))).status,
    ).toBe(200);
  });

  it('counts every aliased field of one request as a write', async () => {
    const erin = await signUp(t);
    const fields = [1, 2, 3, 4, 5, 6].map((i) => `a${i}: createItem(input: { name: "Alias ${i}" }) { id }`).join(' ');
    const res = await t.gql(`mutation { ${fields} }`, {}, bearer(erin.accessToken));
    expectLimited(res);
    // Mutation fields run one after another: the first four were written, the rest refused.
    expect(codes(res)).toEqual(['TOO_MANY_REQUESTS']);
    expect(await ownedBy(erin)).toBe(4);
    const counter = await mongoose.connection
      .db!.collection('rate_limits')
      .findOne({ _id: `itemWrite:user:${erin.user.id}` as unknown as mongoose.mongo.ObjectId });
    expect(counter!.count).toBe(5);
  });

  it('holds under parallel requests: 12 at once from one user write exactly 4 items', async () => {
    const frank = await signUp(t);
    const results = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        t.gql(CREATE, { input: { name: `Parallel ${i}` } }, bearer(frank.accessToken)),
      ),
    );
    expect(results.filter((r) => r.status === 200 && r.body.data?.createItem)).toHaveLength(4);
    for (const refused of results.filter((r) => r.status !== 200)) expectLimited(refused);
    expect(await ownedBy(frank)).toBe(4);
  });
});

describe('the per-user item cap (MAX_ITEMS_PER_USER)', () => {
  const ADMIN_EMAIL = uniqueEmail('admin');
  const ADMIN_PASSWORD = strongPassword();
  let t: TestServer;
  let admin: { accessToken: string; user: { id: string } };
  beforeAll(async () => {
    t = await startTestServer({ MAX_ITEMS_PER_USER: '5', ADMIN_EMAIL, ADMIN_PASSWORD });
    admin = await logIn(t, ADMIN_EMAIL, ADMIN_PASSWORD);
  });
  afterAll(() => t.stop());

  const createAll = (token: string, count: number, prefix = 'Item') =>
    Promise.all(
      Array.from({ length: count }, (_, i) =>
        t.gql<{ createItem: { id: string } }>(CREATE, { input: { name: `${prefix} ${i}` } }, bearer(token)),
      ),
    );
  const created = (results: Array<GraphQLResponse<{ createItem: { id: string } }>>) =>
    results.filter((r) => r.body.data?.createItem).map((r) => r.body.data!.createItem.id);

  function expectCapped(results: GraphQLResponse[]): void {
    for (const res of results) {
      expect(codes(res)).toEqual(['CONFLICT']);
      expect(res.body.errors![0]!.extensions!.maxItems).toBe(5);
    }
  }

  it('creates exactly 5 items from 20 parallel createItem requests, refusing the rest with CONFLICT', async () => {
    const alice = await signUp(t);
    const results = await createAll(alice.accessToken, 20);
    const ids = created(results);
    expect(ids).toHaveLength(5);
    expectCapped(results.filter((r) => !r.body.data?.createItem));
    expect(await ownedBy(alice)).toBe(5);
    const count = await t.gql('{ items(filter: { mine: true }) { totalCount } }', {}, bearer(alice.accessToken));
    expect(count.body.data!.items.totalCount).toBe(5);
  });

  it('never refuses a new owner below the cap when their first creations race', async () => {
    // The first creations of an owner also create the quota counter; none may be refused for it.
    const owners = await Promise.all(Array.from({ length: 8 }, () => signUp(t)));
    const results = await Promise.all(owners.map((owner) => createAll(owner.accessToken, 5, 'First')));
    for (const perOwner of results) expect(perOwner.map(codes)).toEqual([[], [], [], [], []]);
  });

  it('frees room when items are deleted, again exactly under parallel requests', async () => {
    const bob = await signUp(t);
    const ids = created(await createAll(bob.accessToken, 5));
    expect(ids).toHaveLength(5);
    expectCapped([await t.gql(CREATE, { input: { name: 'Sixth' } }, bearer(bob.accessToken))]);

    for (const id of ids.slice(0, 2)) expect(codes(await t.gql(DELETE, { id }, bearer(bob.accessToken)))).toEqual([]);
    const again = await createAll(bob.accessToken, 10, 'Again');
    expect(created(again)).toHaveLength(2);
    expectCapped(again.filter((r) => !r.body.data?.createItem));
    expect(await ownedBy(bob)).toBe(5);
  });

  it('gives one slot back when the same item is deleted by 10 parallel requests', async () => {
    const carol = await signUp(t);
    const ids = created(await createAll(carol.accessToken, 5));
    const deletions = await Promise.all(
      Array.from({ length: 10 }, () => t.gql(DELETE, { id: ids[0] }, bearer(carol.accessToken))),
    );
    expect(deletions.filter((r) => r.body.data?.deleteItem === ids[0])).toHaveLength(1);
    for (const res of deletions.filter((r) => !r.body.data)) expect(codes(res)).toEqual(['NOT_FOUND']);
    // One item gone means room for exactly one more.
    expect(created(await createAll(carol.accessToken, 10, 'Refill'))).toHaveLength(1);
    expect(await ownedBy(carol)).toBe(5);
  });

  it('is per owner, and an admin deleting a user item frees that user slot', async () => {
    const [dave, erin] = await Promise.all([signUp(t), signUp(t)]);
    const daves = created(await createAll(dave.accessToken, 5));
    expect(created(await createAll(erin.accessToken, 5))).toHaveLength(5);
    expect(codes(await t.gql(DELETE, { id: daves[0] }, bearer(admin.accessToken)))).toEqual([]);
    expect(created(await createAll(dave.accessToken, 3, 'After admin'))).toHaveLength(1);
    expectCapped([await t.gql(CREATE, { input: { name: 'Erin sixth' } }, bearer(erin.accessToken))]);
  });

  it('applies to admins for their own items', async () => {
    const results = await createAll(admin.accessToken, 8, 'Admin');
    expect(created(results)).toHaveLength(5);
    expectCapped(results.filter((r) => !r.body.data?.createItem));
    expect(await ownedBy(admin)).toBe(5);
  });

  it('counts items stored before the cap existed, and deleting them frees room', async () => {
    const frank = await signUp(t);
    // Written the way the previous version stored items: no quota marker on them.
    const now = new Date();
    const { insertedIds } = await items().insertMany(
      [1, 2, 3].map((i) => ({
        name: `Old ${i}`,
        nameKey: `old ${i}`,
        description: null,
        category: null,
        tags: [],
        price: null,
        priceKey: -1,
        quantity: 0,
        version: 1,
        ownerId: frank.user.id,
        createdAt: now,
        updatedAt: now,
      })),
    );
    const results = await createAll(frank.accessToken, 6, 'New');
    expect(created(results)).toHaveLength(2);
    expectCapped(results.filter((r) => !r.body.data?.createItem));

    const old = String(insertedIds[0]);
    expect(codes(await t.gql(DELETE, { id: old }, bearer(frank.accessToken)))).toEqual([]);
    expect(created(await createAll(frank.accessToken, 4, 'Newer'))).toHaveLength(1);
    expect(await ownedBy(frank)).toBe(5);
  });

  it('gives the slot back when the insert fails', async () => {
    const gina = await signUp(t);
    // A database-side failure after the slot is taken: a unique index the service does not expect.
    await items().createIndex({ name: 1, ownerId: 1 }, { unique: true, name: 'test_unique_name' });
    try {
      for (let i = 0; i < 4; i++) {
        const res = await t.gql(CREATE, { input: { name: 'Same name' } }, bearer(gina.accessToken));
        expect(codes(res)).toEqual(i === 0 ? [] : ['INTERNAL_SERVER_ERROR']);
      }
    } finally {
      await items().dropIndex('test_unique_name');
    }
    // Three failed inserts took no slots: four more fit beside the one item.
    expect(created(await createAll(gina.accessToken, 6, 'Distinct'))).toHaveLength(4);
    expect(await ownedBy(gina)).toBe(5);
  });
});
