import { bearer, logIn, signUp, strongPassword, uniqueEmail } from '../../helpers/auth';
import { codes } from '../../helpers/graphql';
import { startTestServer, type TestServer } from '../../helpers/server';

const ITEM = 'id name description category tags price quantity version createdAt updatedAt owner { id }';
const CREATE = `mutation($input: CreateItemInput!) { createItem(input: $input) { ${ITEM} } }`;
const UPDATE = `mutation($id: ID!, $input: UpdateItemInput!, $v: Int) { updateItem(id: $id, input: $input, expectedVersion: $v) { ${ITEM} } }`;
const DELETE = 'mutation($id: ID!) { deleteItem(id: $id) }';
const GET = `query($id: ID!) { item(id: $id) { ${ITEM} } }`;
const MISSING_ID = '0123456789abcdef01234567';

interface Item {
  id: string;
  name: string;
  description: string | null;
  category: string | null;
  tags: string[];
  price: number | null;
  quantity: number;
  version: number;
  createdAt: string;
  updatedAt: string;
  owner: { id: string };
}

const ADMIN_EMAIL = uniqueEmail('admin');
const ADMIN_PASSWORD = strongPassword();
let t: TestServer;
let alice: Awaited<ReturnType<typeof signUp>>;
let bob: Awaited<ReturnType<typeof signUp>>;
let admin: { accessToken: string };
beforeAll(async () => {
  t = await startTestServer({ ADMIN_EMAIL, ADMIN_PASSWORD });
  [alice, bob, admin] = await Promise.all([signUp(t), signUp(t), logIn(t, ADMIN_EMAIL, ADMIN_PASSWORD)]);
});
afterAll(() => t.stop());

async function create(token: string, input: Record<string, unknown>): Promise<Item> {
  const res = await t.gql<{ createItem: Item }>(CREATE, { input }, bearer(token));
  if (!res.body.data?.createItem) throw new Error(JSON.stringify(res.body.errors));
  return res.body.data.createItem;
}
const read = async (id: string, token = alice.accessToken) =>
  (await t.gql<{ item: Item | null }>(GET, { id }, bearer(token))).body.data!.item;

describe('items: create, read, update, delete', () => {
  it('creates an item owned by the caller, with defaults and normalised tags', async () => {
    const item = await create(alice.accessToken, {
      name: '  Lamp  ',
      tags: [' Home', 'home', 'LIGHT '],
      price: 12.5,
      description: 'A desk lamp',
    });
    expect(item).toMatchObject({ name: 'Lamp', tags: ['home', 'light'], price: 12.5, quantity: 0, version: 1 });
    expect(item.owner).toEqual({ id: alice.user.id });
    expect(item.category).toBeNull();
    expect(await read(item.id, bob.accessToken)).toMatchObject({ id: item.id, name: 'Lamp' });
  });

  it('answers UNAUTHENTICATED to anonymous callers on every item field', async () => {
    const item = await create(alice.accessToken, { name: 'Private' });
    const anonymous = [
      await t.gql(GET, { id: item.id }),
      await t.gql('{ items { totalCount } }'),
      await t.gql(CREATE, { input: { name: 'x' } }),
      await t.gql(UPDATE, { id: item.id, input: { name: 'y' } }),
      await t.gql(DELETE, { id: item.id }),
    ];
    for (const res of anonymous) {
      expect(codes(res)).toEqual(['UNAUTHENTICATED']);
      expect(res.body.errors![0]!.extensions!.reason).toBe('AUTHENTICATION_REQUIRED');
    }
    expect((await read(item.id))!.name).toBe('Private');
  });

  it('lets only the owner update, bumping the version and updatedAt', async () => {
    const item = await create(alice.accessToken, { name: 'Chair', quantity: 2 });
    const refused = await t.gql(UPDATE, { id: item.id, input: { name: 'Stolen' } }, bearer(bob.accessToken));
    expect(codes(refused)).toEqual(['FORBIDDEN']);
    expect(refused.body.errors![0]!.extensions!.reason).toBe('NOT_OWNER');
    expect(await read(item.id)).toMatchObject({ name: 'Chair', version: 1 });

    const res = await t.gql<{ updateItem: Item }>(
      UPDATE,
      { id: item.id, input: { quantity: 3 } },
      bearer(alice.accessToken),
    );
    const updated = res.body.data!.updateItem;
    expect(updated).toMatchObject({ name: 'Chair', quantity: 3, version: 2 });
    expect(Date.parse(updated.updatedAt)).toBeGreaterThanOrEqual(Date.parse(item.updatedAt));
    expect(updated.createdAt).toBe(item.createdAt);
  });

  it('lets only the owner delete; the deleted id is returned and the item is gone', async () => {
    const item = await create(alice.accessToken, { name: 'Table' });
    const refused = await t.gql(DELETE, { id: item.id }, bearer(bob.accessToken));
    expect(codes(refused)).toEqual(['FORBIDDEN']);
    expect(refused.body.errors![0]!.extensions!.reason).toBe('NOT_OWNER');
    expect(await read(item.id)).not.toBeNull();
    const res = await t.gql(DELETE, { id: item.id }, bearer(alice.accessToken));
    expect(res.body.data!.deleteItem).toBe(item.id);
    expect(await read(item.id)).toBeNull();
    expect(codes(await t.gql(DELETE, { id: item.id }, bearer(alice.accessToken)))).toEqual(['NOT_FOUND']);
  });

  it('lets an admin update and delete anyone’s item', async () => {
    const item = await create(bob.accessToken, { name: 'Bike' });
    const res = await t.gql(UPDATE, { id: item.id, input: { name: 'Moderated' } }, bearer(admin.accessToken));
    expect(res.body.data!.updateItem).toMatchObject({ name: 'Moderated', version: 2, owner: { id: bob.user.id } });
    expect((await t.gql(DELETE, { id: item.id }, bearer(admin.accessToken))).body.data!.deleteItem).toBe(item.id);
  });

  it('answers NOT_FOUND for a well-formed id that does not exist, and item(id) null', async () => {
    const auth = bearer(alice.accessToken);
    expect(codes(await t.gql(UPDATE, { id: MISSING_ID, input: { name: 'x' } }, auth))).toEqual(['NOT_FOUND']);
    expect(codes(await t.gql(DELETE, { id: MISSING_ID }, auth))).toEqual(['NOT_FOUND']);
    const res = await t.gql(GET, { id: MISSING_ID }, auth);
    expect(res.body.errors).toBeUndefined();
    expect(res.body.data!.item).toBeNull();
  });

  it.each([
    ['item', GET, { id: 'not-an-id' }, 'id'],
    ['updateItem', UPDATE, { id: '12345', input: { name: 'x' } }, 'id'],
    ['deleteItem', DELETE, { id: `${MISSING_ID}0` }, 'id'],
    ['items ownerId', 'query($o: ID) { items(filter: { ownerId: $o }) { totalCount } }', { o: 'zz' }, 'ownerId'],
    ['items cursor', '{ items(after: "definitely-not-a-cursor") { totalCount } }', {}, 'after'],
  ])('answers BAD_USER_INPUT for a malformed id or cursor (%s)', async (_label, query, variables, field) => {
    const res = await t.gql(query, variables, bearer(alice.accessToken));
    expect(res.status).toBeLessThan(500);
    expect(codes(res)).toEqual(['BAD_USER_INPUT']);
    expect(res.body.errors![0]!.extensions!.field).toBe(field);
  });

  it.each<[string, Record<string, unknown>, string]>([
    ['an empty name', { name: '   ' }, 'name'],
    ['a name over 200 characters', { name: 'n'.repeat(201) }, 'name'],
    ['a description over 5000 characters', { name: 'x', description: 'd'.repeat(5001) }, 'description'],
    ['a category over 100 characters', { name: 'x', category: 'c'.repeat(101) }, 'category'],
    ['more than 20 tags', { name: 'x', tags: Array.from({ length: 21 }, (_, i) => `t${i}`) }, 'tags'],
    ['an empty tag', { name: 'x', tags: ['ok', '  '] }, 'tags'],
    ['a tag over 50 characters', { name: 'x', tags: ['t'.repeat(51)] }, 'tags'],
    ['a negative price', { name: 'x', price: -0.01 }, 'price'],
    ['a negative quantity', { name: 'x', quantity: -1 }, 'quantity'],
  ])('refuses %s with BAD_USER_INPUT naming the field', async (_label, input, field) => {
    const res = await t.gql(CREATE, { input }, bearer(alice.accessToken));
    expect(codes(res)).toEqual(['BAD_USER_INPUT']);
    expect(String(res.body.errors![0]!.extensions!.field)).toMatch(new RegExp(`^${field}`));
  });

  it('accepts the limits themselves', async () => {
    const item = await create(alice.accessToken, {
      name: 'n'.repeat(200),
      description: 'd'.repeat(5000),
      category: 'c'.repeat(100),
      tags: Array.from({ length: 20 }, (_, i) => `${'t'.repeat(48)}${i}`.slice(-50)),
      price: 0,
      quantity: 0,
    });
    expect(item.tags).toHaveLength(20);
  });

  it('refuses an update that sets no field, or validation failures, and leaves the item unchanged', async () => {
    const item = await create(alice.accessToken, { name: 'Mug' });
    const auth = bearer(alice.accessToken);
    expect(codes(await t.gql(UPDATE, { id: item.id, input: {} }, auth))).toEqual(['BAD_USER_INPUT']);
    expect(codes(await t.gql(UPDATE, { id: item.id, input: { name: '' } }, auth))).toEqual(['BAD_USER_INPUT']);
    expect(codes(await t.gql(UPDATE, { id: item.id, input: { quantity: 1.5 } }, auth))).toEqual(['BAD_USER_INPUT']);
    expect(await read(item.id)).toMatchObject({ name: 'Mug', version: 1 });
  });

  it('applies expectedVersion atomically: a stale version is a CONFLICT carrying the current version', async () => {
    const item = await create(alice.accessToken, { name: 'Pen' });
    const auth = bearer(alice.accessToken);
    const ok = await t.gql(UPDATE, { id: item.id, input: { name: 'Pen 2' }, v: 1 }, auth);
    expect(ok.body.data!.updateItem.version).toBe(2);
    const stale = await t.gql(UPDATE, { id: item.id, input: { name: 'Pen 3' }, v: 1 }, auth);
    expect(codes(stale)).toEqual(['CONFLICT']);
    expect(stale.body.errors![0]!.extensions!.currentVersion).toBe(2);
    expect((await read(item.id))!.name).toBe('Pen 2');
  });

  it('lets exactly one of two concurrent updates with the same expectedVersion win', async () => {
    for (let round = 0; round < 5; round++) {
      const item = await create(alice.accessToken, { name: `Race ${round}` });
      const [a, b] = await Promise.all(
        ['A', 'B'].map((name) => t.gql(UPDATE, { id: item.id, input: { name }, v: 1 }, bearer(alice.accessToken))),
      );
      const outcomes = [a!, b!].map((r) => (r.body.data?.updateItem ? 'OK' : codes(r)[0]));
      expect(outcomes.sort()).toEqual(['CONFLICT', 'OK']);
      const winner = [a!, b!].find((r) => r.body.data?.updateItem)!.body.data!.updateItem.name;
      expect(await read(item.id)).toMatchObject({ version: 2, name: winner });
    }
  });

  it('puts the item as it now is in the loser’s CONFLICT (extensions.current), for a UI to show', async () => {
    const item = await create(alice.accessToken, { name: 'Shared', tags: ['x'], price: 3, description: 'd' });
    const inputs = [
      { name: 'Mine', price: 4 },
      { name: 'Theirs', category: 'c' },
    ];
    const [a, b] = await Promise.all(
      inputs.map((input) => t.gql(UPDATE, { id: item.id, input, v: 1 }, bearer(alice.accessToken))),
    );
    const won = [a!, b!].find((r) => r.body.data?.updateItem)!.body.data!.updateItem as Item;
    const lost = [a!, b!].find((r) => !r.body.data?.updateItem)!;
    expect(codes(lost)).toEqual(['CONFLICT']);
    const { owner, ...scalars } = won;
    expect(lost.body.errors![0]!.extensions).toMatchObject({
      currentVersion: 2,
      current: { ...scalars, ownerId: owner.id, orgId: null },
    });
    expect(Object.keys(lost.body.errors![0]!.extensions!.current as object).sort()).toEqual(
      [...Object.keys(scalars), 'ownerId', 'orgId'].sort(),
    );
  });

  it('refuses admin-only fields to other users with reason ADMIN_ONLY, and to anonymous callers with AUTHENTICATION_REQUIRED', async () => {
    const query = '{ users { totalCount } }';
    const refused = await t.gql(query, {}, bearer(bob.accessToken));
    expect(codes(refused)).toEqual(['FORBIDDEN']);
    expect(refused.body.errors![0]!.extensions!.reason).toBe('ADMIN_ONLY');
    const anonymous = await t.gql(query);
    expect(codes(anonymous)).toEqual(['UNAUTHENTICATED']);
    expect(anonymous.body.errors![0]!.extensions!.reason).toBe('AUTHENTICATION_REQUIRED');
  });

  it('keeps a disabled user’s items readable', async () => {
    const carol = await signUp(t);
    const item = await create(carol.accessToken, { name: 'Left behind' });
    await t.gql(
      'mutation($id: ID!) { setUserDisabled(userId: $id, disabled: true) { id } }',
      { id: carol.user.id },
      bearer(admin.accessToken),
    );
    expect(await read(item.id, bob.accessToken)).toMatchObject({ name: 'Left behind', owner: { id: carol.user.id } });
  });
});

describe('BAD_USER_INPUT: every problem at once, each named by its path', () => {
  type Problem = { field: string; message: string };
  const problems = (res: { body: { errors?: Array<{ extensions?: Record<string, unknown> }> } }) =>
    res.body.errors![0]!.extensions!.fields as Problem[];

  it('lists a blank name and a negative price together, without repeating the field names', async () => {
    const res = await t.gql(CREATE, { input: { name: ' ', price: -1, tags: ['ok', '  '] } }, bearer(alice.accessToken));
    expect(codes(res)).toEqual(['BAD_USER_INPUT']);
    expect(res.body.errors![0]!.extensions!.field).toBe('name');
    expect(problems(res)).toEqual([
      { field: 'name', message: 'must not be empty' },
      { field: 'tags.1', message: 'must not be empty' },
      { field: 'price', message: 'must be >= 0' },
    ]);
  });

  it('lists every problem of an update, a null name included, and changes nothing', async () => {
    const item = await create(alice.accessToken, { name: 'Vase' });
    const input = { name: null, quantity: -2, category: 'c'.repeat(101) };
    const res = await t.gql(UPDATE, { id: item.id, input }, bearer(alice.accessToken));
    expect(codes(res)).toEqual(['BAD_USER_INPUT']);
    expect(problems(res).map((p) => p.field)).toEqual(['name', 'category', 'quantity']);
    expect(problems(res)[0]!.message).toBe('cannot be null');
    expect(await read(item.id)).toMatchObject({ name: 'Vase', version: 1 });
  });

  it('gives one-field errors the same shape (fields holds the field alone)', async () => {
    const res = await t.gql(GET, { id: 'not-an-id' }, bearer(alice.accessToken));
    expect(res.body.errors![0]!.extensions).toMatchObject({
      code: 'BAD_USER_INPUT',
      field: 'id',
      fields: [{ field: 'id', message: 'is not a valid id' }],
    });
  });

  it.each<[string, Record<string, unknown>, string, string]>([
    ['a non-integer quantity', { name: 'x', quantity: 1.5 }, 'quantity', 'quantity'],
    ['a number among the tags', { name: 'x', tags: ['a', 5] }, 'tags', 'tags.1'],
    ['a missing name', { price: 1 }, 'name', 'name'],
    ['an unknown field', { name: 'x', colour: 'red' }, 'colour', 'colour'],
  ])('names the field of a variable graphql-js cannot coerce (%s)', async (_label, input, field, path) => {
    const res = await t.gql(CREATE, { input }, bearer(alice.accessToken));
    expect(res.status).toBe(400);
    expect(codes(res)).toEqual(['BAD_USER_INPUT']);
    expect(res.body.errors![0]!.extensions!.field).toBe(field);
    expect(problems(res)).toEqual([{ field: path, message: expect.any(String) }]);
  });
});

describe('Item.owner: the public view of a user', () => {
  it.each(['email', 'role', 'disabled', 'createdAt'])(
    'refuses owner { %s } with GRAPHQL_VALIDATION_FAILED, on item, items and createItem',
    async (field) => {
      const item = await create(alice.accessToken, { name: 'Owned' });
      for (const query of [
        `query($id: ID!) { item(id: $id) { owner { id ${field} } } }`,
        `{ items { edges { node { owner { ${field} } } } } }`,
        `mutation { createItem(input: { name: "x" }) { owner { ${field} } } }`,
      ]) {
        const res = await t.gql(query, { id: item.id }, bearer(bob.accessToken));
        expect(res.status).toBe(400);
        expect(codes(res)).toEqual(['GRAPHQL_VALIDATION_FAILED']);
        expect(res.body.data).toBeUndefined();
      }
    },
  );

  it('answers owner { id } with the owner’s id, as a PublicUser', async () => {
    const item = await create(alice.accessToken, { name: 'Shared' });
    const res = await t.gql(
      'query($id: ID!) { item(id: $id) { owner { __typename id } } }',
      { id: item.id },
      bearer(bob.accessToken),
    );
    expect(res.body.errors).toBeUndefined();
    expect(res.body.data!.item.owner).toEqual({ __typename: 'PublicUser', id: alice.user.id });
  });

  it('keeps email, role and disabled on the private User of me, users and auth payloads', async () => {
    const fields = '{ id email role disabled }';
    const me = await t.gql(`{ me ${fields} }`, {}, bearer(alice.accessToken));
    expect(me.body.data!.me).toEqual({ id: alice.user.id, email: alice.email, role: 'USER', disabled: false });

    const users = `{ users(first: 100) { edges { node ${fields} } } }`;
    const listed = await t.gql(users, {}, bearer(admin.accessToken));
    expect(listed.body.data!.users.edges.map((e: { node: unknown }) => e.node)).toContainEqual({
      id: alice.user.id,
      email: alice.email,
      role: 'USER',
      disabled: false,
    });
    expect(codes(await t.gql(users, {}, bearer(bob.accessToken)))).toEqual(['FORBIDDEN']);

    const login = await logIn(t, alice.email, alice.password);
    expect(login.user).toMatchObject({ id: alice.user.id, email: alice.email, role: 'USER', disabled: false });
  });
});
