import mongoose from 'mongoose';
import { eventBus } from '../../../src/infra/events';
import { ITEM_EVENTS_CHANNEL, type ItemEventMessage } from '../../../src/items/item.events';
import { OrgRole } from '../../../src/orgs/org.model';
import { bearer, signUp } from '../../helpers/auth';
import { codes, type GraphQLResponse } from '../../helpers/graphql';
import {
  createIn,
  createOrg,
  CREATE_ITEM,
  DELETE_ITEM,
  DELETE_ORG,
  join,
  listAll,
  type OrgItem,
} from '../../helpers/org-items';
import { eventually } from '../../helpers/realtime';
import { startTestServer, type TestServer } from '../../helpers/server';

const CAP = 5;

let t: TestServer;
beforeAll(async () => {
  t = await startTestServer({ MAX_ITEMS_PER_USER: String(CAP) });
});
afterAll(() => t.stop());

const as = (user: { accessToken: string }) => bearer(user.accessToken);
const items = () => mongoose.connection.db!.collection('items');
const created = (results: GraphQLResponse[]) =>
  results.filter((r) => r.body.data?.createItem).map((r) => (r.body.data!.createItem as OrgItem).id);
const createMany = (user: { accessToken: string }, count: number, input: Record<string, unknown>) =>
  Promise.all(
    Array.from({ length: count }, (_, i) => t.gql(CREATE_ITEM, { input: { ...input, name: `Item ${i}` } }, as(user))),
  );

async function orgOf(count: number) {
  const users = await Promise.all(Array.from({ length: count }, () => signUp(t)));
  const orgId = await createOrg(t, users[0]!.accessToken);
  for (const user of users.slice(1)) await join(orgId, user.user.id, OrgRole.MEMBER);
  return { orgId, users };
}

describe('the item cap per organization (MAX_ITEMS_PER_USER, per organization as per user)', () => {
  it('holds across members creating in parallel, apart from each member’s personal cap', async () => {
    const { orgId, users } = await orgOf(3);
    const results = (await Promise.all(users.map((u) => createMany(u, 4, { orgId })))).flat();
    expect(created(results)).toHaveLength(CAP);
    for (const res of results.filter((r) => !r.body.data?.createItem)) {
      expect(codes(res)).toEqual(['CONFLICT']);
      expect(res.body.errors![0]!.extensions!.maxItems).toBe(CAP);
    }
    expect(await items().countDocuments({ orgId })).toBe(CAP);
    // Organization items are not their creators': each still has the whole personal cap.
    for (const personal of await Promise.all(users.map((u) => createMany(u, CAP + 2, {}))))
      expect(created(personal)).toHaveLength(CAP);

    // One deleted item of the organization is room for exactly one more, whoever asks.
    const [first] = created(results);
    expect(codes(await t.gql(DELETE_ITEM, { id: first }, as(users[0]!)))).toEqual([]);
    const refill = (await Promise.all(users.map((u) => createMany(u, 3, { orgId })))).flat();
    expect(created(refill)).toHaveLength(1);
    expect(await items().countDocuments({ orgId })).toBe(CAP);
  });
});

describe("an organization's items when people and organizations go", () => {
  it('stay when their creator deletes the account, still counted against the organization; the personal ones go', async () => {
    const { orgId, users } = await orgOf(2);
    const [owner, leaver] = users as [Awaited<ReturnType<typeof signUp>>, Awaited<ReturnType<typeof signUp>>];
    const kept = await Promise.all([1, 2].map((i) => createIn(t, as(leaver), { name: `Kept ${i}`, orgId })));
    await Promise.all([1, 2].map((i) => createIn(t, as(leaver), { name: `Personal ${i}` })));
    const deleted = await t.gql(
      'mutation($p: String!) { deleteAccount(currentPassword: $p) }',
      { p: leaver.password },
      as(leaver),
    );
    expect(deleted.body.data).toEqual({ deleteAccount: true });
    expect(await items().countDocuments({ ownerId: leaver.user.id, orgId: null })).toBe(0);
    const left = await listAll(t, as(owner), { filter: { orgId } });
    expect(left.map((i) => [i.id, i.owner]).sort()).toEqual(
      kept.map((i) => [i.id, { id: leaver.user.id, displayName: null }]).sort(),
    );
    // The two still hold organization slots: three more fit, not four.
    expect(created(await createMany(owner, 4, { orgId }))).toHaveLength(CAP - 2);
  });

  it('are all deleted with the organization, with a DELETED event each, even while members create more', async () => {
    const { orgId, users } = await orgOf(2);
    const owner = users[0]!;
    const before = await Promise.all([1, 2].map((i) => createIn(t, as(users[i % 2]!), { name: `Old ${i}`, orgId })));
    const events: ItemEventMessage[] = [];
    const unsubscribe = eventBus().subscribe(ITEM_EVENTS_CHANNEL, (m) => events.push(m as ItemEventMessage));
    const deleteOrg = () => t.gql(DELETE_ORG, { id: orgId, p: owner.password }, as(owner));
    try {
      const racing = users.flatMap((u) =>
        Array.from({ length: 5 }, (_, i) => t.gql(CREATE_ITEM, { input: { name: `Racing ${i}`, orgId } }, as(u))),
      );
      // The OWNER's deleteOrganization, once the first creation answered and while the rest run.
      await Promise.race(racing);
      expect((await deleteOrg()).body).toEqual({ data: { deleteOrganization: true } });
      const answers = await Promise.all(racing);
      // Each racing creation is refused (the cap, or the organization gone) or, if it landed
      // first, deleted with the rest: none leaves an item behind.
      for (const res of answers.filter((r) => !r.body.data?.createItem)) {
        expect(res.status).toBe(200);
        expect(['CONFLICT', 'NOT_FOUND']).toContain(codes(res).join());
      }
      expect(await items().countDocuments({ orgId })).toBe(0);
      const landed = [...before.map((i) => i.id), ...created(answers)];
      const gone = await eventually(() => {
        const deletions = events.filter((e) => e.type === 'DELETED' && e.orgId === orgId).map((e) => e.id);
        return landed.every((id) => deletions.includes(id)) && deletions;
      }, 'DELETED events of the organization items');
      expect(new Set(gone).size).toBe(gone.length);
    } finally {
      unsubscribe();
    }
    // Gone for good: deleting it again and creating in it are NOT_FOUND, and nothing came back.
    expect(codes(await deleteOrg())).toEqual(['NOT_FOUND']);
    expect(codes(await t.gql(CREATE_ITEM, { input: { name: 'Late', orgId } }, as(users[1]!)))).toEqual(['NOT_FOUND']);
    expect(await items().countDocuments({ orgId })).toBe(0);
  });
});
