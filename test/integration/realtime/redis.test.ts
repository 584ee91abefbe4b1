import { bearer, logIn, signUp, strongPassword, uniqueEmail } from '../../helpers/auth';
import { graphqlClient, type GraphQLClient } from '../../helpers/graphql';
import type { Instance } from '../../helpers/instance';
import { startInstancePair, type InstancePair } from '../../helpers/instance-pair';
import {
  createItem,
  deleteItem,
  readiness,
  subscribeItems,
  updateItem,
  type ItemEventData,
} from '../../helpers/realtime';
import type { TestServer } from '../../helpers/server';
import type { Closed, RawClient } from '../../helpers/ws';

/**
 * Two API instances sharing one real Redis and one database: instance A runs in this process,
 * instance B is `src/index.ts` in a child process (one createServer per process). Events and
 * auth notices published on either reach the sockets of the other.
 */

const RECHECK_SECONDS = 30;
const ADMIN = { email: uniqueEmail('admin'), password: strongPassword() };

let a: TestServer;
let b: Instance;
let bClient: GraphQLClient;
let pair: InstancePair;

beforeAll(async () => {
  pair = await startInstancePair({
    // The periodic re-check is the backstop; these tests prove the notice closes sockets first.
    WS_AUTH_RECHECK_SECONDS: String(RECHECK_SECONDS),
    ADMIN_EMAIL: ADMIN.email,
    ADMIN_PASSWORD: ADMIN.password,
  });
  ({ a, b } = pair);
  bClient = graphqlClient(b.url);
}, 120_000);

afterEach(() => pair.closeSockets());
afterAll(() => pair?.stop(), 60_000);

const connect = (url: string, token: string): Promise<RawClient> => pair.connect(url, token);

/** The next `count` events of subscription `id`, checked to carry no errors. */
async function events(ws: RawClient, id: string, count: number): Promise<ItemEventData['itemEvents'][]> {
  const out: ItemEventData['itemEvents'][] = [];
  for (let i = 0; i < count; i++) {
    const { data, errors } = await ws.event<ItemEventData>(id);
    expect(errors).toBeUndefined();
    out.push(data!.itemEvents);
  }
  return out;
}

describe('two API instances sharing one Redis', () => {
  it('the second instance is a separate process with its own event bus on the same Redis', async () => {
    expect(b.child.pid).not.toBe(process.pid);
    expect(new URL(b.url).port).not.toBe(new URL(a.url).port);
    expect(await readiness(b.url)).toEqual({ status: 200, body: { status: 'ok', database: 'up', events: 'up' } });
    expect(b.lines.some((l) => l.msg === 'event bus: connected to Redis')).toBe(true);
  });

  it('a subscriber on B receives CREATED, UPDATED and DELETED for mutations on A, in order, versions growing', async () => {
    const [alice, bob] = await Promise.all([signUp(a), signUp(a)]);
    const [ws, own] = await Promise.all([connect(b.url, bob.accessToken), connect(b.url, alice.accessToken)]);
    await subscribeItems(ws, 'all', { ownerId: alice.user.id });
    await subscribeItems(own, 'mine', { mine: true });

    const item = await createItem(a, alice.accessToken, { name: 'A-1' });
    for (let n = 2; n <= 4; n++) await updateItem(a, alice.accessToken, item.id, { name: `A-${n}` });
    await deleteItem(a, alice.accessToken, item.id);

    const got = await events(ws, 'all', 5);
    // Bob is not the owner: the actor is shown to the owner and admins only.
    expect(got.map((e) => [e.type, e.id, e.version, e.actorId])).toEqual([
      ['CREATED', item.id, 1, null],
      ['UPDATED', item.id, 2, null],
      ['UPDATED', item.id, 3, null],
      ['UPDATED', item.id, 4, null],
      ['DELETED', item.id, 5, null],
    ]);
    expect(got.map((e) => e.item?.name ?? null)).toEqual(['A-1', 'A-2', 'A-3', 'A-4', null]);
    // The owner's socket sees the actor, also of the deletion (the owner travels with every event).
    const mine = await events(own, 'mine', 5);
    expect(mine.map((e) => [e.type, e.actorId])).toEqual([
      ['CREATED', alice.user.id],
      ['UPDATED', alice.user.id],
      ['UPDATED', alice.user.id],
      ['UPDATED', alice.user.id],
      ['DELETED', alice.user.id],
    ]);
  });

  it('and the other way round: a subscriber on A receives the mutations done on B', async () => {
    const [alice, bob] = await Promise.all([signUp(bClient), signUp(bClient)]);
    const ws = await connect(a.url, bob.accessToken);
    await subscribeItems(ws, 'all', { ownerId: alice.user.id });

    const item = await createItem(bClient, alice.accessToken, { name: 'B-1', category: 'remote' });
    await updateItem(bClient, alice.accessToken, item.id, { name: 'B-2' });
    await updateItem(bClient, alice.accessToken, item.id, { name: 'B-3' });
    await deleteItem(bClient, alice.accessToken, item.id);

    const got = await events(ws, 'all', 4);
    expect(got.map((e) => [e.type, e.id, e.version])).toEqual([
      ['CREATED', item.id, 1],
      ['UPDATED', item.id, 2],
      ['UPDATED', item.id, 3],
      ['DELETED', item.id, 4],
    ]);
  });

  it('subscribers on both instances see one item edited alternately on A and B in commit order', async () => {
    const [alice, bob] = await Promise.all([signUp(a), signUp(a)]);
    const onA = await connect(a.url, bob.accessToken);
    const onB = await connect(b.url, bob.accessToken);
    // Only alice's items: no other test's events can interleave.
    const filter = { ownerId: alice.user.id };
    await Promise.all([subscribeItems(onA, 'mine', filter), subscribeItems(onB, 'mine', filter)]);
    const item = await createItem(a, alice.accessToken, { name: 'v1' });
    for (let n = 2; n <= 6; n++) await updateItem(n % 2 ? a : bClient, alice.accessToken, item.id, { name: `v${n}` });

    for (const ws of [onA, onB]) {
      const got = await events(ws, 'mine', 6);
      expect(got.map((e) => e.version)).toEqual([1, 2, 3, 4, 5, 6]);
      expect(got.map((e) => e.item!.name)).toEqual(['v1', 'v2', 'v3', 'v4', 'v5', 'v6']);
    }
  });

  it('logoutAll on A closes the user’s socket on B at once with 4401, long before the periodic re-check', async () => {
    const carol = await signUp(a);
    const ws = await connect(b.url, carol.accessToken);
    await subscribeItems(ws, 'all');
    const opened = Date.now();

    const res = await a.gql('mutation { logoutAll }', {}, bearer(carol.accessToken));
    expect(res.status).toBe(200);
    expect(res.body.data).toEqual({ logoutAll: true });

    // The periodic re-check of this socket runs 30 s after it opened: a close before then is the notice's.
    const closed = await closeWithin(ws, (RECHECK_SECONDS - 10) * 1000);
    expect(closed).toEqual({ code: 4401, reason: 'SESSION_REVOKED' });
    expect(Date.now() - opened).toBeLessThan(RECHECK_SECONDS * 1000);
  }, 40_000);

  it('an admin disabling a user on A closes that user’s sockets on B at once with 4401', async () => {
    const [dave, admin] = await Promise.all([signUp(a), logIn(a, ADMIN.email, ADMIN.password)]);
    const sockets = [await connect(b.url, dave.accessToken), await connect(b.url, dave.accessToken)];
    await Promise.all(sockets.map((ws, i) => subscribeItems(ws, `s${i}`)));
    // Another user's socket on B stays open.
    const other = await signUp(a);
    const bystander = await connect(b.url, other.accessToken);
    await subscribeItems(bystander, 'all', { mine: true });

    const res = await a.gql(
      'mutation($id: ID!) { setUserDisabled(userId: $id, disabled: true) { id disabled } }',
      { id: dave.user.id },
      bearer(admin.accessToken),
    );
    expect(res.body.data).toEqual({ setUserDisabled: { id: dave.user.id, disabled: true } });

    for (const ws of sockets) {
      const closed = await closeWithin(ws, (RECHECK_SECONDS - 10) * 1000);
      expect(closed.code).toBe(4401);
      expect(closed.reason).toBe('SESSION_REVOKED');
    }
    // Still served: an event published on A arrives on the bystander's socket.
    const item = await createItem(a, other.accessToken, { name: 'still here' });
    const { data } = await bystander.event<ItemEventData>('all');
    expect(data!.itemEvents).toMatchObject({ type: 'CREATED', id: item.id });
  }, 40_000);
});

async function closeWithin(ws: RawClient, ms: number): Promise<Closed> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`socket still open after ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([ws.closed, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
