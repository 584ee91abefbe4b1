import { OrgRole } from '../../../src/orgs/org.model';
import { bearer, logIn, signUp, strongPassword, uniqueEmail, type Payload } from '../../helpers/auth';
import type { Instance } from '../../helpers/instance';
import { startInstancePair, type InstancePair } from '../../helpers/instance-pair';
import { createOrg, join, removeFromOrg } from '../../helpers/org-items';
import { createItem, deleteItem, subscribeItems, updateItem, EVENTS, type ItemEventData } from '../../helpers/realtime';
import type { TestServer } from '../../helpers/server';
import { openRaw, wsUrl, type RawClient } from '../../helpers/ws';

/**
 * itemEvents for organizations, on two API instances sharing one real Redis and one database
 * (instance A in this process, B a child process, as in redis.test.ts). Items are created,
 * changed and deleted over HTTP by members; members are removed (removeMember) and leave over
 * HTTP. Joining is set-up (join: as an accepted invitation, without the mail round trip).
 * Sockets re-check their credentials only every 30 s here, so a stream that ends at once was
 * ended by the membership message.
 */

const ADMIN = { email: uniqueEmail('admin'), password: strongPassword() };
type User = Payload & { email: string; password: string };

let a: TestServer;
let b: Instance;
let admin: Payload;
let pair: InstancePair;

beforeAll(async () => {
  pair = await startInstancePair({
    WS_AUTH_RECHECK_SECONDS: '30',
    ADMIN_EMAIL: ADMIN.email,
    ADMIN_PASSWORD: ADMIN.password,
  });
  ({ a, b } = pair);
  admin = await logIn(a, ADMIN.email, ADMIN.password);
}, 120_000);

afterEach(() => pair.closeSockets());
afterAll(() => pair?.stop(), 60_000);

const connect = (url: string, token: string): Promise<RawClient> => pair.connect(url, token);

/** An organization of `owner` (over HTTP) with `others` as members of the given roles. */
async function organization(owner: User, others: Array<[User, OrgRole]> = []): Promise<string> {
  const orgId = await createOrg(a, owner.accessToken, 'Live team');
  for (const [user, role] of others) await join(orgId, user.user.id, role);
  return orgId;
}

/** Creates an item of the organization over HTTP, as `by` (a member), and answers its id. */
async function orgItemCreated(orgId: string, by: User, name = 'Roadmap'): Promise<string> {
  return (await createItem(a, by.accessToken, { name, orgId })).id;
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

    // Changed by its creator, then deleted by the organization's ADMIN.
    await updateItem(a, member.accessToken, id, { name: 'Roadmap 2' });
    await deleteItem(a, adminMember.accessToken, id);
    const updated = await Promise.all(sockets.map((ws) => nextEvent(ws, 'org')));
    expect(updated.map((e) => [e.type, e.id, e.version, e.item?.name])).toEqual(
      watchers.map(() => ['UPDATED', id, 2, 'Roadmap 2']),
    );
    const deleted = await Promise.all(sockets.map((ws) => nextEvent(ws, 'org')));
    expect(deleted.map((e) => [e.type, e.id, e.item])).toEqual(watchers.map(() => ['DELETED', id, null]));
    const by = adminMember.user.id;
    expect(deleted.map((e) => e.actorId)).toEqual([by, by, by, null, by]);
  });

  it('never reach a non-member: subscribing on it is NOT_FOUND, and no other filter lets them through', async () => {
    const [owner, stranger] = await Promise.all([signUp(a), signUp(a)]);
    const orgId = await organization(owner);
    const ws = await connect(a.url, stranger.accessToken);
    expect(await refusal(ws, 'org', { orgId })).toEqual(['NOT_FOUND']);
    expect(await refusal(ws, 'missing', { orgId: '0123456789abcdef01234567' })).toEqual(['NOT_FOUND']);
    expect(await refusal(ws, 'bad', { orgId: 'nope' })).toEqual(['BAD_USER_INPUT']);

    // An item of the organization, and a personal one of its owner, both made before subscribing.
    const orgItem = await orgItemCreated(orgId, owner, 'Plan');
    const marker = await createItem(a, owner.accessToken, { name: 'personal' });
    const own = await connect(a.url, owner.accessToken);
    await subscribeItems(own, 'all');
    await subscribeItems(ws, 'all');
    await subscribeItems(ws, 'owner', { ownerId: owner.user.id });
    await subscribeItems(ws, 'ids', { ids: [orgItem, marker.id] });
    await updateItem(a, owner.accessToken, orgItem, { name: 'Plan 2' });
    // Then the personal item changes: the first event of every subscription (even the owner's
    // unfiltered one: without orgId, subscriptions are personal).
    await updateItem(a, owner.accessToken, marker.id, { name: 'personal 2' });
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

    await removeFromOrg(a, owner.accessToken, orgId, member.user.id);
    expect((await ws.next('complete')).id).toBe('org');
    await notDeliveredAfter(ws, orgId, owner, member);
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

    await removeFromOrg(a, owner.accessToken, orgId, member.user.id);
    expect((await ws.next('complete', 5000)).id).toBe('org');
    const after = await notDeliveredAfter(ws, orgId, owner, member);
    // The other member's stream on B goes on.
    expect((await nextEvent(other, 'org')).id).toBe(after);
  });
});

describe('itemEvents of an organization API key', () => {
  it("carry its organization's events only, and end at once when its creator is removed", async () => {
    const [owner, creator, viewer] = await Promise.all([signUp(a), signUp(a), signUp(a)]);
    const orgId = await organization(owner, [
      [creator, OrgRole.MEMBER],
      [viewer, OrgRole.VIEWER],
    ]);
    const elsewhere = await organization(creator);
    const created = await a.gql<{ createApiKey: { secret: string } }>(
      'mutation($i: CreateApiKeyInput!) { createApiKey(input: $i) { secret } }',
      { i: { name: 'team feed', orgId, scopes: ['ITEMS_READ'] } },
      bearer(creator.accessToken),
    );
    const secret = created.body.data!.createApiKey.secret;
    // On B, with the key as Bearer: the events come from A through Redis.
    const ws = await connect(b.url, secret);
    expect(await refusal(ws, 'elsewhere', { orgId: elsewhere })).toEqual(['NOT_FOUND']);
    await subscribeItems(ws, 'key');
    const watcher = await connect(b.url, viewer.accessToken);
    await subscribeItems(watcher, 'org', { orgId });

    // Its creator's personal item and an item of their other organization, then one of the key's
    // organization: only that one arrives (the others, published first, would have come first).
    await createItem(a, creator.accessToken, { name: 'personal' });
    await orgItemCreated(elsewhere, creator, 'Elsewhere');
    const shared = await orgItemCreated(orgId, creator, 'Shared');
    expect(await nextEvent(ws, 'key')).toMatchObject({ type: 'CREATED', id: shared, actorId: creator.user.id });
    expect((await nextEvent(watcher, 'org')).id).toBe(shared);

    await removeFromOrg(a, owner.accessToken, orgId, creator.user.id);
    expect((await ws.next('complete', 5000)).id).toBe('key');
    // The organization's next event reaches its members, not the key: subscribing again is
    // NOT_FOUND, and a new connection with the key is refused as over HTTP (401).
    const later = await orgItemCreated(orgId, owner, 'Later');
    expect((await nextEvent(watcher, 'org')).id).toBe(later);
    expect(await refusal(ws, 'again', {})).toEqual(['NOT_FOUND']);
    await expect(ws.nextWhere((m) => m.type === 'next', 50)).rejects.toThrow('no matching message');
    const fresh = pair.keep(await openRaw(wsUrl(b.url)));
    expect(await fresh.init({ authorization: `Bearer ${secret}` })).toEqual({ code: 4401, reason: 'SESSION_REVOKED' });
  });
});

/**
 * Creates an item of the organization over HTTP by `by` (still a member), then one of the removed
 * member's personal items: once the personal one arrived on `mine`, the organization's would have
 * arrived before it (published in that order on one bus, one socket), so its absence is proven.
 */
async function notDeliveredAfter(ws: RawClient, orgId: string, by: User, member: User): Promise<string> {
  const id = await orgItemCreated(orgId, by, 'After');
  const marker = await createItem(a, member.accessToken, { name: 'marker' });
  expect((await nextEvent(ws, 'mine')).id).toBe(marker.id);
  await expect(ws.nextWhere((m) => m.id === 'org', 50)).rejects.toThrow('no matching message');
  return id;
}
