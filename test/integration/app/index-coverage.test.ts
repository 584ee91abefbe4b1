import mongoose from 'mongoose';
import { ItemModel } from '../../../src/items/item.model';
import { MembershipModel, OrgRole } from '../../../src/orgs/org.model';
import { UserModel } from '../../../src/users/user.model';
import { bearer, signUp } from '../../helpers/auth';
import {
  checkShape,
  commandShapes,
  declaredIndexes,
  fieldKind,
  filterShape,
  INDEX_COVERAGE_EXCEPTIONS,
  QUERY_COMMANDS,
  uncoveredReport,
  type DeclaredIndex,
  type QueryShape,
  type SortSpec,
} from '../../helpers/index-coverage';
import { startTestServer, type TestServer } from '../../helpers/server';

const ix = (key: SortSpec, unique = false): DeclaredIndex => ({ collection: 'c', key, unique });
const ID: DeclaredIndex = ix([['_id', 1]], true);
const query = (filter: Record<string, unknown>, sort: SortSpec = [], command = 'find'): QueryShape => ({
  collection: 'c',
  command,
  filter: filterShape(filter),
  sort,
});
const covered = (q: QueryShape, indexes: DeclaredIndex[]) => checkShape(q, [ID, ...indexes]).covered;
const gt = { $gt: 1 };

describe('index coverage checker', () => {
  it('classifies conditions: equality, $in, ranges, anchored and unanchored patterns, other operators', () => {
    expect(fieldKind('x')).toBe('eq');
    expect(fieldKind({ $eq: 'x' })).toBe('eq');
    expect(fieldKind(new Date())).toBe('eq');
    expect(fieldKind(new mongoose.Types.ObjectId())).toBe('eq');
    expect(fieldKind(null)).toBe('eq');
    expect(fieldKind({ $all: ['a', 'b'] })).toBe('eq');
    expect(fieldKind({ $in: ['a'] })).toBe('in');
    expect(fieldKind({ $gte: 1, $lt: 5 })).toBe('range');
    expect(fieldKind({ $exists: true })).toBe('range');
    expect(fieldKind({ $regex: '^abc' })).toBe('range');
    expect(fieldKind(/^abc/)).toBe('range');
    expect(fieldKind({ $regex: '^abc', $options: 'i' })).toBe('regex');
    expect(fieldKind({ $regex: 'abc' })).toBe('regex');
    expect(fieldKind(/abc/i)).toBe('regex');
    expect(fieldKind({ $ne: null })).toBe('ne');
    expect(fieldKind({ $nin: ['a'] })).toBe('ne');
    expect(fieldKind({ $size: 2 })).toBe('other');
  });

  it('needs equality fields, then sort fields, then range fields, as a prefix of one index (ESR)', () => {
    const esr = ix([
      ['a', 1],
      ['s', -1],
      ['r', 1],
    ]);
    expect(covered(query({ a: 1, r: gt }, [['s', -1]]), [esr])).toBe(true);
    // The index read backwards serves the reversed order.
    expect(covered(query({ a: 1, r: gt }, [['s', 1]]), [esr])).toBe(true);
    // Equality alone, or equality and sort, are prefixes too.
    expect(covered(query({ a: 1 }), [esr])).toBe(true);
    expect(covered(query({ a: 1 }, [['s', 1]]), [esr])).toBe(true);
    // Range before sort (E R S) would need an in-memory sort.
    const ers = ix([
      ['a', 1],
      ['r', 1],
      ['s', -1],
    ]);
    expect(covered(query({ a: 1, r: gt }, [['s', -1]]), [ers])).toBe(false);
    // Not a prefix: the leading field is not constrained.
    expect(covered(query({ s: 1 }), [esr])).toBe(false);
    // $ne narrows nothing: the rest of the filter needs the index, the $ne is checked per document.
    expect(covered(query({ a: 1, z: { $ne: 2 } }), [esr])).toBe(true);
    expect(covered(query({ z: { $ne: 2 } }), [esr])).toBe(false);
    // A second range field later in the index is checked on its keys.
    expect(covered(query({ a: 1, s: gt, r: gt }), [esr])).toBe(true);
    expect(covered(query({ a: 1, r: gt, z: gt }), [esr])).toBe(false);
    // A field the index lacks is not served by it.
    expect(covered(query({ a: 1, z: 1 }), [esr])).toBe(false);
  });

  it('takes equality fields in any order and drops sort keys that an equality fixes', () => {
    const index = ix([
      ['a', 1],
      ['b', 1],
      ['s', 1],
    ]);
    expect(covered(query({ b: 1, a: 2 }, [['s', 1]]), [index])).toBe(true);
    expect(
      covered(
        query({ a: 1, b: 2 }, [
          ['b', -1],
          ['s', 1],
        ]),
        [index],
      ),
    ).toBe(true);
  });

  it('needs the index directions, or all of them reversed, for a sort on several fields', () => {
    const index = ix([
      ['s', 1],
      ['t', -1],
    ]);
    const sort = (s: 1 | -1, t: 1 | -1): SortSpec => [
      ['s', s],
      ['t', t],
    ];
    expect(covered(query({}, sort(1, -1)), [index])).toBe(true);
    expect(covered(query({}, sort(-1, 1)), [index])).toBe(true);
    expect(covered(query({}, sort(1, 1)), [index])).toBe(false);
  });

  it('counts $in as equality when nothing is left to sort, and as a range otherwise', () => {
    const inFirst = ix([
      ['a', 1],
      ['s', 1],
    ]);
    const sortFirst = ix([
      ['s', 1],
      ['a', 1],
    ]);
    expect(covered(query({ a: { $in: [1, 2] } }), [inFirst])).toBe(true);
    expect(covered(query({ a: { $in: [1, 2] } }, [['s', 1]]), [inFirst])).toBe(false);
    expect(covered(query({ a: { $in: [1, 2] } }, [['s', 1]]), [sortFirst])).toBe(true);
  });

  it('always serves equality or $in on _id, or on every field of a unique index, whatever else the filter holds', () => {
    expect(covered(query({ _id: 'x', version: 3, name: { $regex: 'a', $options: 'i' } }), [])).toBe(true);
    expect(covered(query({ _id: { $in: ['x', 'y'] } }, [['s', 1]]), [])).toBe(true);
    expect(covered(query({ email: 'a@b', disabled: false }), [ix([['email', 1]], true)])).toBe(true);
    expect(covered(query({ email: 'a@b', disabled: false }), [ix([['email', 1]])])).toBe(false);
  });

  it('needs an index for every branch of an $or, each with the conditions outside it', () => {
    const a = ix([['a', 1]]);
    const b = ix([['b', 1]]);
    expect(covered(query({ $or: [{ a: 1 }, { b: 1 }] }), [a])).toBe(false);
    expect(covered(query({ $or: [{ a: 1 }, { b: 1 }] }), [a, b])).toBe(true);
    // Keyset paging: strictly after (createdAt, _id) in the order, within one owner.
    const owner = ix([
      ['ownerId', 1],
      ['createdAt', -1],
      ['_id', -1],
    ]);
    const keyset = query(
      { $and: [{ ownerId: 'o' }, { $or: [{ createdAt: { $lt: 1 } }, { createdAt: 1, _id: { $lt: 'i' } }] }] },
      [
        ['createdAt', -1],
        ['_id', -1],
      ],
    );
    expect(covered(keyset, [owner])).toBe(true);
    const withoutId = ix([
      ['ownerId', 1],
      ['createdAt', -1],
    ]);
    expect(checkShape(keyset, [ID, withoutId]).branches.map((b) => b.index !== undefined)).toEqual([false, false]);
  });

  it('refuses a read of the whole collection, except a count without a query (collection metadata)', () => {
    expect(covered(query({}), [])).toBe(false);
    expect(covered(query({}, [], 'delete'), [])).toBe(false);
    expect(covered(query({}, [], 'count'), [])).toBe(true);
  });

  it('accepts an unindexable condition only as a listed exception, and only when the rest has an index', () => {
    const search = { $or: [{ name: { $regex: 'x', $options: 'i' } }, { description: { $regex: 'x', $options: 'i' } }] };
    const owner = ix([
      ['ownerId', 1],
      ['createdAt', -1],
    ]);
    const exception = { collection: 'c', residual: ['name', 'description'], reason: 'substring search' };
    const mine = query({ ownerId: 'o', ...search }, [['createdAt', -1]]);
    expect(checkShape(mine, [ID, owner]).covered).toBe(false);
    const verdict = checkShape(mine, [ID, owner], [exception]);
    expect(verdict.covered).toBe(true);
    expect(verdict.branches.map((b) => [b.index, b.exception])).toEqual([
      ['ownerId_1_createdAt_-1', 'substring search'],
      ['ownerId_1_createdAt_-1', 'substring search'],
    ]);
    // The exception does not excuse the rest of the filter.
    expect(checkShape(query({ category: 'c', ...search }), [ID, owner], [exception]).covered).toBe(false);
  });

  it('reads filters and sorts from every query command, countDocuments and each update or delete included', () => {
    const [count] = commandShapes('aggregate', {
      aggregate: 'items',
      pipeline: [{ $match: { ownerId: 'o' } }, { $group: { _id: 1, n: { $sum: 1 } } }],
    });
    expect(count!.filter.fields).toEqual({ ownerId: 'eq' });
    const [sorted] = commandShapes('aggregate', {
      aggregate: 'x',
      pipeline: [{ $match: { a: 1 } }, { $sort: { b: -1 } }],
    });
    expect(sorted!.sort).toEqual([['b', -1]]);
    const [found] = commandShapes('find', { find: 'x', filter: { a: { $gt: 1 } }, sort: new Map([['b', -1]]) });
    expect([found!.filter.fields, found!.sort]).toEqual([{ a: 'range' }, [['b', -1]]]);
    const [cas] = commandShapes('findAndModify', { findAndModify: 'x', query: { _id: 'k', n: 1 }, sort: { t: 1 } });
    expect([cas!.command, cas!.filter.fields, cas!.sort]).toEqual([
      'findAndModify',
      { _id: 'eq', n: 'eq' },
      [['t', 1]],
    ]);
    const updates = commandShapes('update', { update: 'x', updates: [{ q: { a: 1 } }, { q: { b: { $lt: 2 } } }] });
    expect(updates.map((u) => u.filter.fields)).toEqual([{ a: 'eq' }, { b: 'range' }]);
    const deletes = commandShapes('delete', { delete: 'x', deletes: [{ q: {}, limit: 0 }] });
    expect(deletes.map((d) => [d.command, d.filter.fields])).toEqual([['delete', {}]]);
    expect(commandShapes('distinct', { distinct: 'x', key: 'k', query: { a: 1 } })[0]!.filter.fields).toEqual({
      a: 'eq',
    });
    expect(commandShapes('count', { count: 'x' })[0]!.filter.fields).toEqual({});
  });

  it('reads the indexes from the compiled model schemas, so removing an @index uncovers its queries', () => {
    const indexes = declaredIndexes([ItemModel, UserModel] as unknown as Array<mongoose.Model<unknown>>);
    expect(indexes).toContainEqual({ collection: 'users', key: [['email', 1]], unique: true });
    expect(indexes).toContainEqual({ collection: 'users', key: [['_id', 1]], unique: true });
    const ownerByCreation: DeclaredIndex = {
      collection: 'items',
      key: [
        ['ownerId', 1],
        ['orgId', 1],
        ['createdAt', -1],
        ['_id', -1],
      ],
      unique: false,
    };
    expect(indexes).toContainEqual(ownerByCreation);
    const mine: QueryShape = {
      collection: 'items',
      command: 'find',
      filter: filterShape({ ownerId: 'o', orgId: null }),
      sort: [
        ['createdAt', -1],
        ['_id', -1],
      ],
    };
    expect(checkShape(mine, indexes).covered).toBe(true);
    const without = indexes.filter((i) => JSON.stringify(i) !== JSON.stringify(ownerByCreation));
    expect(checkShape(mine, without).covered).toBe(false);
    expect(uncoveredReport([checkShape(mine, without)])).toContain(
      'find items {ownerId:eq, orgId:eq} sort {createdAt:-1, _id:-1}',
    );
  });
});

describe('index coverage of a representative workload', () => {
  let t: TestServer;
  const recorded = new Map<string, QueryShape>();
  const record = (event: { commandName: string; command: Record<string, unknown> }) => {
    if (!(QUERY_COMMANDS as readonly string[]).includes(event.commandName)) return;
    for (const shape of commandShapes(event.commandName, event.command)) recorded.set(JSON.stringify(shape), shape);
  };

  beforeAll(async () => {
    t = await startTestServer({}, undefined, { monitorCommands: true });
    mongoose.connection.on('commandStarted', record);
  });
  afterAll(async () => {
    mongoose.connection.off('commandStarted', record);
    await t.stop();
  });

  const ok = async <T>(query: string, variables: Record<string, unknown>, headers: Record<string, string>) => {
    const res = await t.gql<T>(query, variables, headers);
    expect(res.body.errors).toBeUndefined();
    return res.body.data!;
  };

  it('sends only queries a declared index serves, or listed exceptions', async () => {
    const [alice, bob] = [await signUp(t), await signUp(t)];
    const auth = bearer(alice.accessToken);
    const CREATE = 'mutation($input: CreateItemInput!) { createItem(input: $input) { id version } }';
    const ids: string[] = [];
    for (let i = 0; i < 6; i++) {
      const input = {
        name: `Thing ${i}`,
        price: i % 2 ? i : null,
        category: i % 2 ? 'tools' : 'toys',
        tags: ['a', `t${i % 3}`],
      };
      const data = await ok<{ createItem: { id: string } }>(
        CREATE,
        { input },
        bearer((i % 3 ? alice : bob).accessToken),
      );
      ids.push(data.createItem.id);
    }
    const PAGE = `query($filter: ItemFilter, $orderBy: ItemOrder, $after: String) {
      items(filter: $filter, orderBy: $orderBy, first: 2, after: $after) {
        totalCount edges { node { id owner { id } } } pageInfo { endCursor }
      }
    }`;
    // An organization's items, with Bob as a MEMBER: the same lists scoped to it.
    const org = await ok<{ createOrganization: { id: string } }>(
      'mutation($i: CreateOrganizationInput!) { createOrganization(input: $i) { id } }',
      { i: { name: 'Coverage', slug: `coverage-${Date.now().toString(36)}` } },
      auth,
    );
    const orgId = org.createOrganization.id;
    await MembershipModel.create({ orgId, userId: bob.user.id, role: OrgRole.MEMBER, joinedAt: new Date() });
    const orgItemIds: string[] = [];
    for (let i = 0; i < 4; i++) {
      const input = { name: `Shared ${i}`, orgId, category: i % 2 ? 'tools' : 'toys', tags: ['a', `t${i % 3}`] };
      const data = await ok<{ createItem: { id: string } }>(
        CREATE,
        { input },
        bearer((i % 2 ? alice : bob).accessToken),
      );
      orgItemIds.push(data.createItem.id);
    }
    const filters = [
      undefined,
      { mine: true },
      { ownerId: bob.user.id },
      { category: 'tools' },
      { tags: ['a', 't1'] },
      { search: 'thing' },
      { mine: true, search: 'thing' },
      { orgId },
      { orgId, mine: true },
      { orgId, ownerId: bob.user.id },
      { orgId, category: 'tools' },
      { orgId, tags: ['a', 't1'] },
      { orgId, search: 'shared' },
    ];
    for (const filter of filters) {
      for (const field of ['CREATED_AT', 'UPDATED_AT', 'NAME', 'PRICE']) {
        for (const direction of ['ASC', 'DESC']) {
          const variables = { filter, orderBy: { field, direction } };
          const first = await ok<{ items: { pageInfo: { endCursor: string } } }>(PAGE, variables, auth);
          await ok(PAGE, { ...variables, after: first.items.pageInfo.endCursor }, auth);
        }
      }
    }
    await ok('query($id: ID!) { item(id: $id) { id } }', { id: ids[1] }, auth);
    await ok(
      'mutation($id: ID!) { updateItem(id: $id, expectedVersion: 1, input: { quantity: 3 }) { id } }',
      { id: ids[1] },
      auth,
    );
    await ok('mutation($id: ID!) { deleteItem(id: $id) }', { id: ids[2] }, auth);
    await ok('query($id: ID!) { item(id: $id) { id organization { id } } }', { id: orgItemIds[0] }, auth);
    const bobAuth = bearer(bob.accessToken);
    await ok(
      'mutation($id: ID!) { updateItem(id: $id, expectedVersion: 1, input: { quantity: 3 }) { id } }',
      { id: orgItemIds[0] },
      bobAuth,
    );
    await ok('mutation($id: ID!) { deleteItem(id: $id) }', { id: orgItemIds[2] }, bobAuth);
    await ok('{ me { id } sessions { id } }', {}, auth);
    await ok('mutation($t: String) { refreshToken(refreshToken: $t) { accessToken } }', { t: alice.refreshToken }, {});
    await ok('mutation { logoutAll }', {}, bearer(bob.accessToken));

    const shapes = [...recorded.values()];
    const itemFinds = shapes.filter((s) => s.collection === 'items' && s.command === 'find');
    // The workload reached the paths it is meant to check: every order, with and without an owner.
    for (const key of ['createdAt', 'updatedAt', 'nameKey', 'priceKey']) {
      expect(itemFinds.some((s) => s.sort[0]?.[0] === key && 'ownerId' in s.filter.fields)).toBe(true);
      expect(itemFinds.some((s) => s.sort[0]?.[0] === key && s.filter.fields.orgId === 'eq')).toBe(true);
    }
    expect(shapes.some((s) => s.collection === 'items' && s.command === 'aggregate')).toBe(true);
    expect(shapes.some((s) => s.collection === 'items' && s.command === 'findAndModify')).toBe(true);

    const indexes = declaredIndexes(Object.values(mongoose.models) as Array<mongoose.Model<unknown>>);
    const verdicts = shapes.map((s) => checkShape(s, indexes, INDEX_COVERAGE_EXCEPTIONS));
    expect(uncoveredReport(verdicts)).toBe('');
    // The substring search is one of the exceptions; with `mine` the owner's index still bounds it.
    const mineSearch = verdicts.filter(
      (v) => v.shape.command === 'find' && 'ownerId' in v.shape.filter.fields && JSON.stringify(v).includes('regex'),
    );
    expect(mineSearch.length).toBeGreaterThan(0);
    for (const v of mineSearch)
      for (const b of v.branches)
        expect([b.index?.startsWith('ownerId_1_'), Boolean(b.exception)]).toEqual([true, true]);
  });
});
