import { ItemModel, type Item } from '../../../src/items/item.model';
import { itemChanged } from '../../../src/items/item.events';
import { addMember } from '../../../src/orgs/membership.service';
import { OrgRole } from '../../../src/orgs/org.model';
import { bearer, logIn, signUp, strongPassword, uniqueEmail, type Payload } from '../../helpers/auth';
import { startInstance, stopAllInstances, type Instance } from '../../helpers/instance';
import { createItem, eventually, readiness, subscribeItems, EVENTS, type ItemEventData } from '../../helpers/realtime';
import { startRedis, type RunningRedis } from '../../helpers/redis';
import { startTestServer, type TestServer } from '../../helpers/server';
import { connectWs, type RawClient } from '../../helpers/ws';

/**
 * itemEvents for organizations, on two API instances sharing one real Redis and one database
 * (instance A in this process, B a child process, as in redis.test.ts).
 *
 * Organization items are created over HTTP by another branch working in parallel: until it lands,
 * an organization's item events are published here with the service's own itemChanged, in this
 * process (instance A's event bus, so through Redis to B as well), for items inserted with
 * ItemModel. Memberships are made with addMember for the same reason (invitations come with that
 * other branch); removals and leaving go over HTTP.
 */

const ADMIN = { email: uniqueEmail('admin'), password: strongPassword() };
type User = Payload & { email: string; password: string };

let redis: RunningRedis;
let a: TestServer;
let b: Instance;
let admin: Payload;
const open: RawClient[] = [];

beforeAll(async () => {
  redis = await startRedis();
  const shared = {
    REDIS_URL: redis.url,
    WS_AUTH_RECHECK_SECONDS: '30',
    ADMIN_EMAIL: ADMIN.email,
    ADMIN_PASSWORD: ADMIN.password,
  };
  a = await startTestServer(shared);
  b = await startInstance({ ...shared, MONGODB_URI: a.config.mongodbUri!, JWT_SECRET: a.config.jwt.secret });
  for (const url of [a.url, b.url])
    await eventually(async () => (await readiness(url)).body.events === 'up', `events up on ${url}`);
  admin = await logIn(a, ADMIN.email, ADMIN.password);
}, 120_000);

afterEach(() => {
  for (const c of open.splice(0)) c.close();
});

afterAll(async () => {
  await b?.stop().catch(() => undefined);
  await stopAllInstances();
  await a?.stop();
  await redis?.stop();
}, 60_000);

async function connect(url: string, token: string): Promise<RawClient> {
  const ws = await connectWs(url, `Bearer ${token}`);
  open.push(ws);
  return ws;
}

let serial = 0;

/** An organization of `owner` (over HTTP) with `others` as members of the given roles. */
async function organization(owner: User, others: Array<[User, OrgRole]> = []): Promise<string> {
  const res = await a.gql<{ createOrganization: { id: string } }>(
    'mutation($i: CreateOrganizationInput!) { createOrganization(input: $i) { id } }',
    { i: { name: 'Live team', slug: `live-${Date.now().toString(36)}-${(serial++).toString(36)}` } },
    bearer(owner.accessToken),
  );
  const orgId = res.body.data!.createOrganization.id;
  for (const [user, role] of others) expect(await addMember(orgId, user.user.id, role)).toBe('added');
  return orgId;
}

/** Inserts an item of the organization and publishes its creation, as createItem will. */
async function orgItemCreated(orgId: string, owner: User, name = 'Roadmap'): Promise<string> {
  const item = await ItemModel.create({
    name,
    nameKey: name.toLowerCase(),
    priceKey: -1,
    ownerId: owner.user.id,
    orgId,
  });
  itemChanged('CREATED', item.toObject<Item>(), owner.user.id);
  return String(item._id);
}

/** The next event of subscription `id`, checked to carry no errors. */
async function nextEvent(ws: RawClient, id: string): Promise<ItemEventData['itemEvents']> {
  const { data, errors } = await ws.event<ItemEventData>(id);
  expect(errors).toBeUndefined();
  return data!.itemEvents;
}

/** Subscribes and answers the error codes the server ended the subscription with. */
async function refusal(ws: RawClient, id: string, filter: Record<string, unknown>): Promise<unknown[]> {
  ws.subscribe(id, EVENTS, { filter });
  const { errors } = await ws.event(id);
  expect((await ws.next('complete')).id).toBe(id);
  return (errors as Array<{ extensions: { code: string } }>).map((e) => e.extensions.code);
}

describe('itemEvents of an organization', () => {
  it('reach its members (the actor shown to OWNERs, ADMINs and the item owner) and site ADMINs', async () => {
    const [owner, adminMember, member, viewer] = await Promise.all([signUp(a), signUp(a), signUp(a), signUp(a)]);
    const orgId = await organization(owner, [
      [adminMember, OrgRole.ADMIN],
      [member, OrgRole.MEMBER],
      [viewer, OrgRole.VIEWER],
    ]);
    const watchers = [owner, adminMember, member, viewer, admin];
    const sockets = await Promise.all(watchers.map((u) => connect(a.url, u.accessToken)));
    await Promise.all(sockets.map((ws) => subscribeItems(ws, 'org', { orgId })));
    const id = await orgItemCreated(orgId, member);
    const got = await Promise.all(sockets.map((ws) => nextEvent(ws, 'org')));
    expect(got.map((e) => [e.type, e.id])).toEqual(watchers.map(() => ['CREATED', id]));
    expect(got.map((e) => e.actorId)).toEqual([member.user.id, member.user.id, member.user.id, null, member.user.id]);
  });

  it('never reach a non-member: subscribing on it is NOT_FOUND, and no other filter lets them through', async () => {
    const [owner, stranger] = await Promise.all([signUp(a), signUp(a)]);
    const orgId = await organization(owner);
    const ws = await connect(a.url, stranger.accessToken);
    expect(await refusal(ws, 'org', { orgId })).toEqual(['NOT_FOUND']);
    expect(await refusal(ws, 'missing', { orgId: '0123456789abcdef01234567' })).toEqual(['NOT_FOUND']);
    expect(await refusal(ws, 'bad', { orgId: 'nope' })).toEqual(['BAD_USER_INPUT']);

    // An item of the organization, and a personal one of its owner, both known before subscribing.
    const orgItem = await ItemModel.create({
      name: 'Plan',
      nameKey: 'plan',
      priceKey: -1,
      ownerId: owner.user.id,
      orgId,
    });
    const marker = await createItem(a, owner.accessToken, { name: 'personal' });
    const own = await connect(a.url, owner.accessToken);
    await subscribeItems(own, 'all');
    await subscribeItems(ws, 'all');
    await subscribeItems(ws, 'owner', { ownerId: owner.user.id });
    await subscribeItems(ws, 'ids', { ids: [String(orgItem._id), marker.id] });
    itemChanged('UPDATED', orgItem.toObject<Item>(), owner.user.id);
    // Then the personal item changes: the first event of every subscription (even the owner's
    // unfiltered one: without orgId, subscriptions are personal).
    const updated = await a.gql(
      'mutation($id: ID!, $i: UpdateItemInput!) { updateItem(id: $id, input: $i) { id } }',
      { id: marker.id, i: { name: 'personal 2' } },
      bearer(owner.accessToken),
    );
    expect(updated.body.errors).toBeUndefined();
    for (const [socket, id] of [
      [own, 'all'],
      [ws, 'all'],
      [ws, 'owner'],
      [ws, 'ids'],
    ] as const)
      expect(await nextEvent(socket, id)).toMatchObject({ type: 'UPDATED', id: marker.id });
  });

  it("ends a removed member's stream at once; resubscribing is NOT_FOUND", async () => {
    const [owner, member] = await Promise.all([signUp(a), signUp(a)]);
    const orgId = await organization(owner, [[member, OrgRole.MEMBER]]);
    const ws = await connect(a.url, member.accessToken);
    await subscribeItems(ws, 'org', { orgId });
    await subscribeItems(ws, 'mine', { mine: true });
    await orgItemCreated(orgId, member);
    expect((await nextEvent(ws, 'org')).type).toBe('CREATED');

    const res = await a.gql(
      'mutation($o: ID!, $u: ID!) { removeMember(orgId: $o, userId: $u) }',
      {
        o: orgId,
        u: member.user.id,
      },
      bearer(owner.accessToken),
    );
    expect(res.body.data).toEqual({ removeMember: true });
    expect((await ws.next('complete')).id).toBe('org');
    await notDeliveredAfter(ws, orgId, member);
    expect(await refusal(ws, 'again', { orgId })).toEqual(['NOT_FOUND']);
  });

  it("ends a leaving member's stream, and everyone's when the organization goes with its last member", async () => {
    const [owner, viewer, solo] = await Promise.all([signUp(a), signUp(a), signUp(a)]);
    const orgId = await organization(owner, [[viewer, OrgRole.VIEWER]]);
    const ws = await connect(a.url, viewer.accessToken);
    await subscribeItems(ws, 'org', { orgId });
    const left = await a.gql(
      'mutation($o: ID!) { leaveOrganization(orgId: $o) }',
      { o: orgId },
      bearer(viewer.accessToken),
    );
    expect(left.body.data).toEqual({ leaveOrganization: true });
    expect((await ws.next('complete')).id).toBe('org');

    // A site ADMIN watching an organization whose only member deletes their account.
    const soloOrg = await organization(solo);
    const watching = await connect(a.url, admin.accessToken);
    await subscribeItems(watching, 'solo', { orgId: soloOrg });
    const deleted = await a.gql(
      'mutation($p: String!) { deleteAccount(currentPassword: $p) }',
      { p: solo.password },
      bearer(solo.accessToken),
    );
    expect(deleted.body.data).toEqual({ deleteAccount: true });
    expect((await watching.next('complete')).id).toBe('solo');
  });

  it('across instances: a member on B gets events published on A, and their removal on A ends the stream on B', async () => {
    const [owner, member, bystander] = await Promise.all([signUp(a), signUp(a), signUp(a)]);
    const orgId = await organization(owner, [
      [member, OrgRole.MEMBER],
      [bystander, OrgRole.VIEWER],
    ]);
    const [ws, other] = await Promise.all([connect(b.url, member.accessToken), connect(b.url, bystander.accessToken)]);
    await Promise.all([subscribeItems(ws, 'org', { orgId }), subscribeItems(other, 'org', { orgId })]);
    await subscribeItems(ws, 'mine', { mine: true });
    const first = await orgItemCreated(orgId, owner);
    expect((await nextEvent(ws, 'org')).id).toBe(first);
    expect((await nextEvent(other, 'org')).id).toBe(first);

    const res = await a.gql(
      'mutation($o: ID!, $u: ID!) { removeMember(orgId: $o, userId: $u) }',
      {
        o: orgId,
        u: member.user.id,
      },
      bearer(owner.accessToken),
    );
    expect(res.body.data).toEqual({ removeMember: true });
    expect((await ws.next('complete', 5000)).id).toBe('org');
    const after = await notDeliveredAfter(ws, orgId, member);
    // The other member's stream on B goes on.
    expect((await nextEvent(other, 'org')).id).toBe(after);
  });
});

/**
 * Publishes an event of the organization, then one of the member's personal items: once the
 * personal one arrived on `mine`, the organization's would have arrived before it (one bus, in
 * order, one socket), so its absence is proven.
 */
async function notDeliveredAfter(ws: RawClient, orgId: string, member: User): Promise<string> {
  const id = await orgItemCreated(orgId, member, 'After');
  const marker = await createItem(a, member.accessToken, { name: 'marker' });
  expect((await nextEvent(ws, 'mine')).id).toBe(marker.id);
  await expect(ws.nextWhere((m) => m.id === 'org', 50)).rejects.toThrow('no matching message');
  return id;
}
