import { bearer, signUp } from '../helpers/auth';
import { startTestServer, type TestServer } from '../helpers/server';
import { connectWs, openRaw, wsUrl, type RawClient } from '../helpers/ws';

const EVENTS = `subscription($filter: ItemEventFilter) {
  itemEvents(filter: $filter) { type id version actorId at item { id name category version owner { id displayName } } }
}`;
const CREATE = 'mutation($input: CreateItemInput!) { createItem(input: $input) { id version } }';
const UPDATE = 'mutation($id: ID!, $input: UpdateItemInput!) { updateItem(id: $id, input: $input) { id version } }';
const DELETE = 'mutation($id: ID!) { deleteItem(id: $id) }';

interface Event {
  itemEvents: {
    type: string;
    id: string;
    version: number;
    actorId: string;
    at: string;
    item: { id: string; name: string; category: string | null; version: number; owner: { id: string } } | null;
  };
}

let t: TestServer;
let alice: Awaited<ReturnType<typeof signUp>>;
let bob: Awaited<ReturnType<typeof signUp>>;
const open: RawClient[] = [];

beforeAll(async () => {
  t = await startTestServer({ CORS_ORIGINS: 'https://app.example.com' });
  [alice, bob] = await Promise.all([signUp(t), signUp(t)]);
});
afterEach(() => {
  for (const c of open.splice(0)) c.close();
});
afterAll(() => t.stop());

async function connect(token: string): Promise<RawClient> {
  const client = await connectWs(t.url, `Bearer ${token}`);
  open.push(client);
  return client;
}

async function createItem(token: string, input: Record<string, unknown>): Promise<{ id: string; version: number }> {
  const res = await t.gql<{ createItem: { id: string; version: number } }>(CREATE, { input }, bearer(token));
  if (!res.body.data?.createItem) throw new Error(JSON.stringify(res.body.errors));
  return res.body.data.createItem;
}

describe('itemEvents over graphql-ws', () => {
  it('delivers CREATED, UPDATED and DELETED after each mutation, with growing versions', async () => {
    const ws = await connect(bob.accessToken);
    ws.subscribe('1', EVENTS);
    // The subscription is registered once the server has processed the subscribe message: a
    // ping round trip after it proves that (messages are handled in order).
    ws.send({ type: 'ping' });
    await ws.next('pong');

    const item = await createItem(alice.accessToken, { name: 'Lamp', category: 'home' });
    const created = await ws.event<Event>('1');
    expect(created.errors).toBeUndefined();
    expect(created.data!.itemEvents).toMatchObject({
      type: 'CREATED',
      id: item.id,
      version: 1,
      actorId: alice.user.id,
      item: { id: item.id, name: 'Lamp', category: 'home', version: 1, owner: { id: alice.user.id } },
    });

    await t.gql(UPDATE, { id: item.id, input: { name: 'Desk lamp' } }, bearer(alice.accessToken));
    const updated = await ws.event<Event>('1');
    expect(updated.data!.itemEvents).toMatchObject({ type: 'UPDATED', version: 2, item: { name: 'Desk lamp' } });

    await t.gql(DELETE, { id: item.id }, bearer(alice.accessToken));
    const deleted = await ws.event<Event>('1');
    expect(deleted.data!.itemEvents).toMatchObject({ type: 'DELETED', id: item.id, version: 3, item: null });
  });

  it('refuses a connection without credentials (4401) and with a bad token (4401 TOKEN_INVALID)', async () => {
    const anonymous = await openRaw(wsUrl(t.url));
    expect(await anonymous.init({})).toEqual({ code: 4401, reason: 'AUTHENTICATION_REQUIRED' });
    const forged = await openRaw(wsUrl(t.url));
    expect(await forged.init({ authorization: 'Bearer not-a-token' })).toEqual({ code: 4401, reason: 'TOKEN_INVALID' });
  });

  it('refuses an upgrade from an origin that is neither listed nor this server', async () => {
    await expect(openRaw(wsUrl(t.url), { origin: 'https://evil.example' })).rejects.toThrow('403');
    const allowed = await openRaw(wsUrl(t.url), { origin: 'https://app.example.com' });
    allowed.close();
  });
});
