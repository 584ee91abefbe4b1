import mongoose from 'mongoose';
import { OrgRole } from '../../../src/orgs/org.model';
import { bearer, logIn, signUp, strongPassword, uniqueEmail } from '../../helpers/auth';
import { codes, type GraphQLResponse } from '../../helpers/graphql';
import {
  createIn,
  createOrg,
  CREATE_ITEM,
  DELETE_ITEM,
  GET_ITEM,
  join,
  listAll,
  LIST_ITEMS,
  removeFromOrg,
  REMOVE_MEMBER,
  setRole,
  UPDATE_ITEM,
  type ItemPage,
  type OrgItem,
} from '../../helpers/org-items';
import { startTestServer, type TestServer } from '../../helpers/server';

const ADMIN_EMAIL = uniqueEmail('admin');
const ADMIN_PASSWORD = strongPassword();

let t: TestServer;
let admin: { accessToken: string; user: { id: string } };
beforeAll(async () => {
  t = await startTestServer({ ADMIN_EMAIL, ADMIN_PASSWORD });
  admin = await logIn(t, ADMIN_EMAIL, ADMIN_PASSWORD);
});
afterAll(() => t.stop());

const as = (user: { accessToken: string }) => bearer(user.accessToken);
const refusal = (res: GraphQLResponse) => [codes(res), res.body.errors?.[0]?.extensions?.reason];

/** An organization with an OWNER, an ADMIN, two MEMBERs and a VIEWER, and someone outside it. */
async function team() {
  const [owner, orgAdmin, member, other, viewer, stranger] = await Promise.all(
    Array.from({ length: 6 }, () => signUp(t)),
  );
  const orgId = await createOrg(t, owner.accessToken);
  await Promise.all([
    join(orgId, orgAdmin.user.id, OrgRole.ADMIN),
    join(orgId, member.user.id, OrgRole.MEMBER),
    join(orgId, other.user.id, OrgRole.MEMBER),
    join(orgId, viewer.user.id, OrgRole.VIEWER),
  ]);
  return { orgId, owner, orgAdmin, member, other, viewer, stranger };
}

describe('organization items: creating, listing and paging', () => {
  it("pages an organization's items for its members in every order, with the filters combined, and never in personal lists", async () => {
    const { orgId, owner, member, viewer, stranger } = await team();
    const inputs = Array.from({ length: 9 }, (_, i) => ({
      name: `Shared ${String.fromCharCode(74 - i)}`,
      orgId,
      category: i % 2 ? 'tools' : 'toys',
      tags: ['a', `t${i % 3}`],
      price: i % 4 ? i * 3 : null,
    }));
    // Created by two members at once.
    const made = await Promise.all(inputs.map((input, i) => createIn(t, as(i % 2 ? owner : member), input)));
    for (const item of made) expect(item.organization).toEqual({ id: orgId, slug: expect.any(String) });
    const personal = await createIn(t, as(member), { name: 'Shared but mine', category: 'tools', tags: ['a'] });
    expect(personal.organization).toBeNull();

    const all = await listAll(t, as(viewer), { filter: { orgId } });
    expect(all.map((i) => i.id).sort()).toEqual(made.map((i) => i.id).sort());
    for (const field of ['CREATED_AT', 'UPDATED_AT', 'NAME', 'PRICE']) {
      for (const direction of ['ASC', 'DESC']) {
        const page = await listAll(t, as(viewer), { filter: { orgId }, orderBy: { field, direction } }, 2);
        expect(page).toHaveLength(9);
        if (field === 'NAME') {
          const names = page.map((i) => i.name);
          const sorted = [...names].sort();
          expect(names).toEqual(direction === 'ASC' ? sorted : sorted.reverse());
        }
        if (field === 'PRICE') {
          const prices = page.map((i) => i.price ?? -1);
          const sorted = [...prices].sort((a, b) => (direction === 'ASC' ? a - b : b - a));
          expect(prices).toEqual(sorted);
        }
      }
    }
    const count = async (filter: Record<string, unknown>) => {
      const res = await t.gql<ItemPage>(LIST_ITEMS, { filter, first: 1 }, as(member));
      return res.body.data!.items.totalCount;
    };
    expect(await count({ orgId })).toBe(9);
    expect(await count({ orgId, mine: true })).toBe(5);
    expect(await count({ orgId, ownerId: owner.user.id })).toBe(4);
    expect(await count({ orgId, category: 'tools' })).toBe(4);
    expect(await count({ orgId, tags: ['a', 't1'] })).toBe(3);
    expect(await count({ orgId, search: 'shared' })).toBe(9);
    expect(await count({ orgId, search: 'mine' })).toBe(0);
    // Without orgId: personal items only, as before organizations; the organization's never.
    const personalList = await listAll(t, as(stranger), { filter: { search: 'shared' } }, 50);
    expect(personalList.map((i) => i.id)).toEqual([personal.id]);
    expect(await count({ mine: true })).toBe(1);
  });

  it('lets a VIEWER read but not create, change or delete (FORBIDDEN, ORG_ROLE)', async () => {
    const { orgId, member, viewer } = await team();
    const item = await createIn(t, as(member), { name: 'Read me', orgId });
    expect((await t.gql(GET_ITEM, { id: item.id }, as(viewer))).body.data!.item).toMatchObject({ id: item.id });
    expect(refusal(await t.gql(CREATE_ITEM, { input: { name: 'No', orgId } }, as(viewer)))).toEqual([
      ['FORBIDDEN'],
      'ORG_ROLE',
    ]);
    expect(refusal(await t.gql(UPDATE_ITEM, { id: item.id, input: { name: 'No' } }, as(viewer)))).toEqual([
      ['FORBIDDEN'],
      'ORG_ROLE',
    ]);
    expect(refusal(await t.gql(DELETE_ITEM, { id: item.id }, as(viewer)))).toEqual([['FORBIDDEN'], 'ORG_ROLE']);
  });

  it('lets a MEMBER change and delete their own items only, an ADMIN or OWNER any', async () => {
    const { orgId, owner, orgAdmin, member, other } = await team();
    const [mine, theirs, third] = await Promise.all([
      createIn(t, as(member), { name: 'Mine', orgId }),
      createIn(t, as(other), { name: 'Theirs', orgId }),
      createIn(t, as(other), { name: 'Third', orgId }),
    ]);
    expect(refusal(await t.gql(UPDATE_ITEM, { id: theirs.id, input: { name: 'Taken' } }, as(member)))).toEqual([
      ['FORBIDDEN'],
      'NOT_OWNER',
    ]);
    expect(refusal(await t.gql(DELETE_ITEM, { id: theirs.id }, as(member)))).toEqual([['FORBIDDEN'], 'NOT_OWNER']);
    const own = await t.gql(UPDATE_ITEM, { id: mine.id, input: { name: 'Still mine' } }, as(member));
    expect(own.body.data!.updateItem).toMatchObject({ name: 'Still mine', version: 2 });
    const byAdmin = await t.gql(UPDATE_ITEM, { id: theirs.id, input: { name: 'Fixed' } }, as(orgAdmin));
    expect(byAdmin.body.data!.updateItem).toMatchObject({ name: 'Fixed', owner: { id: other.user.id } });
    expect((await t.gql(DELETE_ITEM, { id: theirs.id }, as(owner))).body.data).toEqual({ deleteItem: theirs.id });
    expect((await t.gql(DELETE_ITEM, { id: third.id }, as(orgAdmin))).body.data).toEqual({ deleteItem: third.id });
    expect((await t.gql(DELETE_ITEM, { id: mine.id }, as(member))).body.data).toEqual({ deleteItem: mine.id });
  });

  it('does not exist for a non-member: NOT_FOUND for every change and list, null for item and organization', async () => {
    const { orgId, member, stranger } = await team();
    const item = await createIn(t, as(member), { name: 'Secret', orgId });
    expect(codes(await t.gql(CREATE_ITEM, { input: { name: 'In', orgId } }, as(stranger)))).toEqual(['NOT_FOUND']);
    expect(codes(await t.gql(LIST_ITEMS, { filter: { orgId } }, as(stranger)))).toEqual(['NOT_FOUND']);
    expect(codes(await t.gql(UPDATE_ITEM, { id: item.id, input: { name: 'X' } }, as(stranger)))).toEqual(['NOT_FOUND']);
    expect(codes(await t.gql(DELETE_ITEM, { id: item.id }, as(stranger)))).toEqual(['NOT_FOUND']);
    expect((await t.gql(GET_ITEM, { id: item.id }, as(stranger))).body).toEqual({ data: { item: null } });
    const org = await t.gql('query($id: ID!) { organization(id: $id) { id } }', { id: orgId }, as(stranger));
    expect(org.body).toEqual({ data: { organization: null } });
    // The same answers as for an organization that does not exist.
    const unknown = new mongoose.Types.ObjectId().toHexString();
    expect(codes(await t.gql(LIST_ITEMS, { filter: { orgId: unknown } }, as(stranger)))).toEqual(['NOT_FOUND']);
    expect(codes(await t.gql(CREATE_ITEM, { input: { name: 'In', orgId: unknown } }, as(member)))).toEqual([
      'NOT_FOUND',
    ]);
    expect(codes(await t.gql(LIST_ITEMS, { filter: { orgId: 'nope' } }, as(member)))).toEqual(['BAD_USER_INPUT']);
    expect(codes(await t.gql(CREATE_ITEM, { input: { name: 'In', orgId: 'nope' } }, as(member)))).toEqual([
      'BAD_USER_INPUT',
    ]);
    expect((await t.gql(GET_ITEM, { id: item.id }, as(member))).body.data!.item).toMatchObject({ name: 'Secret' });
  });

  it('lets a site ADMIN who is not a member see, create, change and delete in any organization', async () => {
    const { orgId, member } = await team();
    const item = await createIn(t, as(member), { name: 'Watched', orgId });
    const byAdmin = await createIn(t, as(admin), { name: 'Added by admin', orgId });
    expect(byAdmin.organization?.id).toBe(orgId);
    expect((await listAll(t, as(admin), { filter: { orgId } })).map((i) => i.name).sort()).toEqual([
      'Added by admin',
      'Watched',
    ]);
    expect((await t.gql(GET_ITEM, { id: item.id }, as(admin))).body.data!.item).toMatchObject({ id: item.id });
    const changed = await t.gql(UPDATE_ITEM, { id: item.id, input: { name: 'Moderated' } }, as(admin));
    expect(changed.body.data!.updateItem).toMatchObject({ name: 'Moderated' });
    expect((await t.gql(DELETE_ITEM, { id: item.id }, as(admin))).body.data).toEqual({ deleteItem: item.id });
    const unknown = new mongoose.Types.ObjectId().toHexString();
    expect(codes(await t.gql(CREATE_ITEM, { input: { name: 'No', orgId: unknown } }, as(admin)))).toEqual([
      'NOT_FOUND',
    ]);
  });

  it('keeps personal items as before: visible to every signed-in user, changed by their owner only', async () => {
    const { member, stranger } = await team();
    const personal = await createIn(t, as(member), { name: 'Personal' });
    expect((await t.gql(GET_ITEM, { id: personal.id }, as(stranger))).body.data!.item).toMatchObject({
      id: personal.id,
      organization: null,
    });
    expect(refusal(await t.gql(DELETE_ITEM, { id: personal.id }, as(stranger)))).toEqual([['FORBIDDEN'], 'NOT_OWNER']);
    expect((await listAll(t, as(member), { filter: { mine: true } })).map((i) => i.id)).toEqual([personal.id]);
    expect(codes(await t.gql(DELETE_ITEM, { id: personal.id }, as(member)))).toEqual([]);
  });
});

describe('organization items: versions, roles changing and items without orgId', () => {
  it('applies optimistic concurrency to an organization item: of two parallel updates one wins, CONFLICT for the other', async () => {
    const { orgId, orgAdmin, member } = await team();
    const item = await createIn(t, as(member), { name: 'Contested', orgId });
    const [a, b] = await Promise.all([
      t.gql(UPDATE_ITEM, { id: item.id, input: { name: 'By member' }, v: 1 }, as(member)),
      t.gql(UPDATE_ITEM, { id: item.id, input: { name: 'By admin' }, v: 1 }, as(orgAdmin)),
    ]);
    const won = [a!, b!].filter((r) => r.body.data?.updateItem);
    const lost = [a!, b!].filter((r) => !r.body.data?.updateItem);
    expect([won.length, lost.flatMap(codes)]).toEqual([1, ['CONFLICT']]);
    expect(lost[0]!.body.errors![0]!.extensions).toMatchObject({
      currentVersion: 2,
      current: { id: item.id, orgId, ownerId: member.user.id, version: 2 },
    });
  });

  it('applies a role change from the next request: demoted to VIEWER, then removed', async () => {
    const { orgId, owner, member } = await team();
    const item = await createIn(t, as(member), { name: 'Mine for now', orgId });
    await setRole(t, owner.accessToken, orgId, member.user.id, OrgRole.VIEWER);
    expect(refusal(await t.gql(UPDATE_ITEM, { id: item.id, input: { name: 'X' } }, as(member)))).toEqual([
      ['FORBIDDEN'],
      'ORG_ROLE',
    ]);
    expect((await listAll(t, as(member), { filter: { orgId } })).map((i) => i.id)).toEqual([item.id]);
    await removeFromOrg(t, owner.accessToken, orgId, member.user.id);
    expect(codes(await t.gql(LIST_ITEMS, { filter: { orgId } }, as(member)))).toEqual(['NOT_FOUND']);
    expect((await t.gql(GET_ITEM, { id: item.id }, as(member))).body.data!.item).toBeNull();
  });

  it('leaves every creation answered and in the organization while its creator is removed at the same time', async () => {
    const { orgId, owner, member } = await team();
    // Three clients of the member create one item after another while the OWNER's removeMember
    // runs, each until it has sent one more after the removal answered.
    let removalAnswered = false;
    const answers: Array<{ res: GraphQLResponse; sentAfter: boolean }> = [];
    const lane = async (n: number) => {
      for (let i = 0; ; i += 1) {
        const sentAfter = removalAnswered;
        const res = await t.gql(CREATE_ITEM, { input: { name: `Race ${n}.${i}`, orgId } }, as(member));
        answers.push({ res, sentAfter });
        if (sentAfter) return;
      }
    };
    const lanes = [0, 1, 2].map(lane);
    const removal = await t.gql(REMOVE_MEMBER, { o: orgId, u: member.user.id }, as(owner));
    removalAnswered = true;
    await Promise.all(lanes);
    expect(removal.body).toEqual({ data: { removeMember: true } });
    const made: string[] = [];
    for (const { res, sentAfter } of answers) {
      // Answered either way, never a server error: made in the organization, or refused (the
      // membership gone, the organization no longer exists for them), always once it has gone.
      expect(res.status).toBe(200);
      const item = res.body.data?.createItem as OrgItem | undefined;
      if (sentAfter) expect(codes(res)).toEqual(['NOT_FOUND']);
      else if (item) {
        expect([item.organization?.id, item.owner.id]).toEqual([orgId, member.user.id]);
        made.push(item.id);
      } else expect(['NOT_FOUND', 'FORBIDDEN']).toContain(codes(res).join());
    }
    // What was created belongs to the organization and stays there.
    expect((await listAll(t, as(owner), { filter: { orgId } })).map((i) => i.id).sort()).toEqual(made.sort());
  });

  it('lists an item stored before organizations (no orgId field) as personal, and changes it as before', async () => {
    const user = await signUp(t);
    const now = new Date();
    // Written by the driver, as the previous version stored items: no orgId at all.
    const { insertedId } = await mongoose.connection.db!.collection('items').insertOne({
      name: 'Legacy',
      nameKey: 'legacy',
      description: null,
      category: 'old',
      tags: [],
      price: null,
      priceKey: -1,
      quantity: 0,
      version: 1,
      ownerId: user.user.id,
      createdAt: now,
      updatedAt: now,
    });
    const id = String(insertedId);
    const mine = await listAll(t, as(user), { filter: { mine: true } });
    expect(mine.map((i) => [i.id, i.organization])).toEqual([[id, null]]);
    expect((await listAll(t, as(user), { filter: { category: 'old' } }, 50)).map((i) => i.id)).toContain(id);
    const changed = await t.gql(UPDATE_ITEM, { id, input: { name: 'Legacy, renamed' }, v: 1 }, as(user));
    expect(changed.body.data!.updateItem).toMatchObject({ name: 'Legacy, renamed', version: 2, organization: null });
    expect((await t.gql(DELETE_ITEM, { id }, as(user))).body.data).toEqual({ deleteItem: id });
  });
});
