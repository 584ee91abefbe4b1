import { randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import WebSocket from 'ws';
import { basic, bearer, logIn, signUp, strongPassword, uniqueEmail } from '../../helpers/auth';
import { startTestServer, type TestServer } from '../../helpers/server';
import { connectWs, openRaw, wsUrl, type RawClient } from '../../helpers/ws';

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
    actorId: string | null;
    at: string;
    item: { id: string; name: string; category: string | null; version: number; owner: { id: string } } | null;
  };
}

/** ws's own framing (exported at run time, not in its types), to write several frames at once. */
const { Sender } = WebSocket as unknown as {
  Sender: { frame(data: Buffer, options: Record<string, unknown>): Buffer[] };
};

const ADMIN_EMAIL = uniqueEmail('admin');
const ADMIN_PASSWORD = strongPassword();
let t: TestServer;
let alice: Awaited<ReturnType<typeof signUp>>;
let bob: Awaited<ReturnType<typeof signUp>>;
let admin: Awaited<ReturnType<typeof logIn>>;
const open: RawClient[] = [];

beforeAll(async () => {
  t = await startTestServer({
    ADMIN_EMAIL,
    ADMIN_PASSWORD,
    CORS_ORIGINS: 'https://app.example.com',
    WS_MAX_SUBSCRIPTIONS: '3',
    WS_MAX_CONNECTIONS_PER_USER: '3',
    WS_MAX_MESSAGE_BYTES: '4096',
    WS_CONNECTION_INIT_TIMEOUT_MS: '500',
    WS_KEEPALIVE_MS: '300',
    // Far longer than any wait below: a socket closed in these tests was closed by a notice.
    WS_AUTH_RECHECK_SECONDS: '30',
  });
  [alice, bob, admin] = await Promise.all([signUp(t), signUp(t), logIn(t, ADMIN_EMAIL, ADMIN_PASSWORD)]);
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
      // Bob watches alice's item: the actor is for its owner and admins only.
      actorId: null,
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

/** Subscribes and waits until the server has registered it (it handles messages in order). */
async function subscribed(ws: RawClient, id: string, variables?: Record<string, unknown>, query = EVENTS) {
  ws.subscribe(id, query, variables);
  ws.send({ type: 'ping' });
  await ws.next('pong');
}

/** The next `n` events of subscription `id`, as "TYPE id vN". */
async function events(ws: RawClient, id: string, n: number): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const { data, errors } = await ws.event<Event>(id);
    if (errors) throw new Error(JSON.stringify(errors));
    out.push(`${data!.itemEvents.type} ${data!.itemEvents.id} v${data!.itemEvents.version}`);
  }
  return out;
}

/** Nothing more arrives for `id` in a short quiet period (catches events a filter should drop). */
async function quiet(ws: RawClient, id: string): Promise<void> {
  await expect(ws.nextWhere((m) => m.id === id, 300, 'extra')).rejects.toThrow('no extra message within 300 ms');
}

describe('filters', () => {
  it('delivers only what each filter selects: mine, ownerId, category, ids', async () => {
    const [onBob, onAlice] = await Promise.all([connect(bob.accessToken), connect(alice.accessToken)]);
    const category = `garden-${Date.now()}`;
    await subscribed(onBob, 'mine', { filter: { mine: true } });
    await subscribed(onBob, 'owner', { filter: { ownerId: alice.user.id } });
    await subscribed(onBob, 'category', { filter: { category: ` ${category} ` } });

    const a1 = await createItem(alice.accessToken, { name: 'a1', category });
    await subscribed(onAlice, 'ids', { filter: { ids: [a1.id.toUpperCase()] } });
    const b1 = await createItem(bob.accessToken, { name: 'b1', category: 'home' });
    const a2 = await createItem(alice.accessToken, { name: 'a2', category: 'home' });
    await t.gql(UPDATE, { id: a1.id, input: { name: 'a1 again' } }, bearer(alice.accessToken));
    const b2 = await createItem(bob.accessToken, { name: 'b2', category });

    expect(await events(onBob, 'mine', 2)).toEqual([`CREATED ${b1.id} v1`, `CREATED ${b2.id} v1`]);
    expect(await events(onBob, 'owner', 3)).toEqual([
      `CREATED ${a1.id} v1`,
      `CREATED ${a2.id} v1`,
      `UPDATED ${a1.id} v2`,
    ]);
    expect(await events(onBob, 'category', 3)).toEqual([
      `CREATED ${a1.id} v1`,
      `UPDATED ${a1.id} v2`,
      `CREATED ${b2.id} v1`,
    ]);
    expect(await events(onAlice, 'ids', 1)).toEqual([`UPDATED ${a1.id} v2`]);
    await Promise.all([quiet(onBob, 'mine'), quiet(onBob, 'owner'), quiet(onBob, 'category'), quiet(onAlice, 'ids')]);
  });

  it('refuses a malformed filter with BAD_USER_INPUT and no subscription', async () => {
    const ws = await connect(alice.accessToken);
    ws.subscribe('bad', EVENTS, { filter: { ids: ['nope'] } });
    const result = await ws.event('bad');
    expect(result.errors).toEqual([
      expect.objectContaining({ extensions: expect.objectContaining({ code: 'BAD_USER_INPUT', field: 'filter.ids' }) }),
    ]);
    expect((await ws.next('complete')).id).toBe('bad');
  });
});

describe('actorId: who changed an item, only for its owner and admins', () => {
  it('shows the actor to the owner and to an admin, and null to another subscriber, for every kind of event', async () => {
    const carol = await signUp(t);
    const [onCarol, onAdmin, onBob] = await Promise.all([
      connect(carol.accessToken),
      connect(admin.accessToken),
      connect(bob.accessToken),
    ]);
    // Any signed-in caller may watch anyone's items (as `items` lists them): here by owner, or all.
    await subscribed(onCarol, 'a', { filter: { mine: true } });
    await subscribed(onAdmin, 'a', { filter: { ownerId: carol.user.id } });
    await subscribed(onBob, 'a', { filter: { ownerId: carol.user.id } });
    await subscribed(onBob, 'b');

    const item = await createItem(carol.accessToken, { name: 'whose change' });
    await t.gql(UPDATE, { id: item.id, input: { name: 'changed by an admin' } }, bearer(admin.accessToken));
    await t.gql(DELETE, { id: item.id }, bearer(admin.accessToken));

    const actors = async (ws: RawClient, id: string) => {
      const out: Array<[string, string, string | null]> = [];
      for (let i = 0; i < 3; i++) {
        const { data, errors } = await ws.event<Event>(id);
        expect(errors).toBeUndefined();
        out.push([data!.itemEvents.type, data!.itemEvents.id, data!.itemEvents.actorId]);
      }
      return out;
    };
    const shown = [
      ['CREATED', item.id, carol.user.id],
      ['UPDATED', item.id, admin.user.id],
      ['DELETED', item.id, admin.user.id],
    ];
    expect(await actors(onCarol, 'a')).toEqual(shown);
    expect(await actors(onAdmin, 'a')).toEqual(shown);
    const hidden = shown.map(([type, id]) => [type, id, null]);
    expect(await actors(onBob, 'a')).toEqual(hidden);
    expect(await actors(onBob, 'b')).toEqual(hidden);
  });
});

describe('order', () => {
  it('hands out concurrent updates of one item with strictly growing versions, ending at the last', async () => {
    const ws = await connect(bob.accessToken);
    const item = await createItem(alice.accessToken, { name: 'counter' });
    await subscribed(ws, 'order', { filter: { ids: [item.id] } });
    const updates = 12;
    await Promise.all(
      Array.from({ length: updates }, (_, i) =>
        t.gql(UPDATE, { id: item.id, input: { quantity: i } }, bearer(alice.accessToken)),
      ),
    );
    const versions: number[] = [];
    while (versions.at(-1) !== updates + 1) {
      const { data } = await ws.event<Event>('order');
      versions.push(data!.itemEvents.version);
    }
    for (let i = 1; i < versions.length; i++) expect(versions[i]!).toBeGreaterThan(versions[i - 1]!);
    await quiet(ws, 'order');
  });

  it('sends a DELETED event for every item of a deleted account', async () => {
    const carol = await signUp(t);
    const ws = await connect(bob.accessToken);
    await subscribed(ws, 'gone', { filter: { ownerId: carol.user.id } });
    const items = [
      await createItem(carol.accessToken, { name: 'c1' }),
      await createItem(carol.accessToken, { name: 'c2' }),
    ];
    expect(await events(ws, 'gone', 2)).toHaveLength(2);
    const res = await t.gql(
      'mutation($p: String!) { deleteAccount(currentPassword: $p) }',
      { p: carol.password },
      bearer(carol.accessToken),
    );
    expect(res.body.errors).toBeUndefined();
    expect((await events(ws, 'gone', 2)).sort()).toEqual(items.map((i) => `DELETED ${i.id} v2`).sort());
  });
});

describe('authentication', () => {
  it('accepts Basic credentials and refuses wrong ones with 4401 BAD_CREDENTIALS', async () => {
    const ok = await openRaw(wsUrl(t.url));
    open.push(ok);
    const { authorization } = basic(alice.email, alice.password);
    expect(await ok.init({ Authorization: authorization })).toEqual({ type: 'connection_ack' });
    const wrong = await openRaw(wsUrl(t.url));
    const { authorization: bad } = basic(alice.email, 'not-the-password');
    expect(await wrong.init({ authorization: bad })).toEqual({ code: 4401, reason: 'BAD_CREDENTIALS' });
  });

  it("accepts an upgrade from the server's own origin", async () => {
    const own = await openRaw(wsUrl(t.url), { origin: t.url });
    open.push(own);
    expect(await own.init({ authorization: `Bearer ${alice.accessToken}` })).toEqual({ type: 'connection_ack' });
  });

  it('closes with 4408 when connection_init does not come in time', async () => {
    const silent = await openRaw(wsUrl(t.url));
    expect((await silent.closed).code).toBe(4408);
  });
});

describe('revocation closes the socket at once (not at the 30 s periodic check)', () => {
  async function fresh() {
    const user = await signUp(t);
    const ws = await connect(user.accessToken);
    await subscribed(ws, 's');
    return { user, ws };
  }

  it('logoutAll', async () => {
    const { user, ws } = await fresh();
    await t.gql('mutation { logoutAll }', {}, bearer(user.accessToken));
    expect(await ws.closed).toEqual({ code: 4401, reason: 'SESSION_REVOKED' });
  });

  it('an admin disabling the account', async () => {
    const { user, ws } = await fresh();
    const res = await t.gql(
      'mutation($id: ID!) { setUserDisabled(userId: $id, disabled: true) { id } }',
      { id: user.user.id },
      bearer(admin.accessToken),
    );
    expect(res.body.errors).toBeUndefined();
    expect(await ws.closed).toEqual({ code: 4401, reason: 'SESSION_REVOKED' });
  });

  it('a password change, for Bearer and for Basic connections', async () => {
    const { user, ws } = await fresh();
    const viaBasic = await connectWs(t.url, basic(user.email, user.password).authorization!);
    open.push(viaBasic);
    const res = await t.gql(
      'mutation($c: String!, $n: String!) { changePassword(currentPassword: $c, newPassword: $n) { accessToken } }',
      { c: user.password, n: strongPassword() },
      bearer(user.accessToken),
    );
    expect(res.body.errors).toBeUndefined();
    expect(await ws.closed).toEqual({ code: 4401, reason: 'SESSION_REVOKED' });
    expect(await viaBasic.closed).toEqual({ code: 4401, reason: 'SESSION_REVOKED' });
  });

  it('revoking the session the token belongs to, and only that session', async () => {
    const { user, ws } = await fresh();
    const second = await logIn(t, user.email, user.password);
    const other = await connect(second.accessToken);
    const sessions = await t.gql<{ sessions: Array<{ id: string; current: boolean }> }>(
      '{ sessions { id current } }',
      {},
      bearer(user.accessToken),
    );
    const mine = sessions.body.data!.sessions.find((s) => s.current)!;
    await t.gql('mutation($id: ID!) { revokeSession(id: $id) }', { id: mine.id }, bearer(second.accessToken));
    expect(await ws.closed).toEqual({ code: 4401, reason: 'SESSION_REVOKED' });
    // The other session's socket still gets events.
    await subscribed(other, 'still');
    const item = await createItem(second.accessToken, { name: 'after revoke' });
    expect(await events(other, 'still', 1)).toEqual([`CREATED ${item.id} v1`]);
  });
});

describe('limits', () => {
  it('refuses a subscription past WS_MAX_SUBSCRIPTIONS with FORBIDDEN SUBSCRIPTION_LIMIT, then allows one again', async () => {
    const ws = await connect(alice.accessToken);
    for (const id of ['1', '2', '3']) await subscribed(ws, id);
    ws.subscribe('4', EVENTS);
    const refused = await ws.event('4');
    expect(refused.errors).toEqual([
      expect.objectContaining({
        extensions: expect.objectContaining({ code: 'FORBIDDEN', reason: 'SUBSCRIPTION_LIMIT', limit: 3 }),
      }),
    ]);
    ws.send({ type: 'complete', id: '1' });
    await subscribed(ws, '5');
    const item = await createItem(alice.accessToken, { name: 'limit' });
    expect(await events(ws, '5', 1)).toEqual([`CREATED ${item.id} v1`]);
  });

  it('keeps the limit when ids are reused before their operations start (subscribe, complete, subscribe)', async () => {
    const ws = await connect(alice.accessToken);
    // Framed by hand and written at once, so the server reads them from one chunk, one after
    // the other, before any of the operations has started.
    const messages: object[] = [];
    for (let i = 0; i < 10; i++) {
      const subscribe = { type: 'subscribe', id: `r${i}`, payload: { query: EVENTS } };
      messages.push(subscribe, { type: 'complete', id: `r${i}` }, subscribe);
    }
    const frames = messages.flatMap((m) =>
      Sender.frame(Buffer.from(JSON.stringify(m)), {
        fin: true,
        opcode: 1,
        mask: true,
        maskBuffer: randomBytes(4),
        readOnly: false,
        rsv1: false,
      }),
    );
    (ws.socket as unknown as { _socket: Socket })._socket.write(Buffer.concat(frames));
    ws.send({ type: 'ping' });
    await ws.next('pong');
    const item = await createItem(alice.accessToken, { name: 'reused ids' });
    // An operation graphql-ws lost track of would still send, under the same id as its twin.
    let deliveries = 0;
    for (;;) {
      const message = await ws.nextWhere((m) => m.type === 'next', 1000, 'next').catch(() => undefined);
      if (!message) break;
      if ((message.payload as { data?: Event }).data?.itemEvents.id === item.id) deliveries++;
    }
    expect(deliveries).toBeGreaterThan(0);
    expect(deliveries).toBeLessThanOrEqual(3);
  });

  it('closes connections past WS_MAX_CONNECTIONS_PER_USER with 4429 TOO_MANY_CONNECTIONS', async () => {
    const user = await signUp(t);
    const three = await Promise.all([1, 2, 3].map(() => connect(user.accessToken)));
    const fourth = await openRaw(wsUrl(t.url));
    expect(await fourth.init({ authorization: `Bearer ${user.accessToken}` })).toEqual({
      code: 4429,
      reason: 'TOO_MANY_CONNECTIONS',
    });
    three[0]!.close();
    await three[0]!.closed;
    // The server frees the slot when it sees the close: poll briefly.
    for (let attempt = 0; ; attempt++) {
      const again = await openRaw(wsUrl(t.url));
      const answer = await again.init({ authorization: `Bearer ${user.accessToken}` });
      if ('type' in answer) {
        open.push(again);
        break;
      }
      if (attempt > 50) throw new Error('the slot was never freed');
      await new Promise((r) => setTimeout(r, 20));
    }
  });

  it('closes the socket with 1009 for a message over WS_MAX_MESSAGE_BYTES', async () => {
    const ws = await connect(alice.accessToken);
    ws.subscribe('big', EVENTS, { filter: { category: 'x'.repeat(5000) } });
    expect((await ws.closed).code).toBe(1009);
  });

  it('applies the HTTP document limits: aliases, tokens, unknown fields without hints', async () => {
    const ws = await connect(alice.accessToken);
    const aliases = Array.from({ length: 16 }, (_, i) => `a${i}: type`).join(' ');
    ws.subscribe('aliases', `subscription { itemEvents { ${aliases} } }`);
    expect((await ws.event('aliases')).errors).toEqual([
      expect.objectContaining({ extensions: expect.objectContaining({ code: 'GRAPHQL_VALIDATION_FAILED' }) }),
    ]);
    // Over MAX_TOKENS (1000) while under WS_MAX_MESSAGE_BYTES.
    const tokens = Array.from({ length: 1100 }, () => 'id').join(' ');
    ws.subscribe('tokens', `subscription { itemEvents { ${tokens} } }`);
    expect((await ws.event('tokens')).errors).toEqual([
      expect.objectContaining({ extensions: expect.objectContaining({ code: 'GRAPHQL_PARSE_FAILED' }) }),
    ]);
    ws.subscribe('typo', 'subscription { itemEvents { typ } }');
    const typo = (await ws.event('typo')).errors as Array<{ message: string; extensions: { code: string } }>;
    expect(typo[0]!.extensions.code).toBe('GRAPHQL_VALIDATION_FAILED');
    expect(typo[0]!.message).not.toMatch(/did you mean/i);
  });

  it('runs only subscriptions over the socket (BAD_REQUEST for queries and mutations)', async () => {
    const ws = await connect(alice.accessToken);
    ws.subscribe('q', '{ me { id } }');
    expect((await ws.event('q')).errors).toEqual([
      expect.objectContaining({ extensions: expect.objectContaining({ code: 'BAD_REQUEST' }) }),
    ]);
  });

  it('pings: a client that never answers is dropped, one that answers stays', async () => {
    const mute = new WebSocket(wsUrl(t.url), 'graphql-transport-ws', { autoPong: false });
    const muteClosed = new Promise<number>((resolve) => mute.once('close', (code) => resolve(code)));
    await new Promise((resolve) => mute.once('open', resolve));
    mute.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${alice.accessToken}` } }));
    const ws = await connect(alice.accessToken);
    // Terminated without a close frame: 1006 on the client.
    expect(await muteClosed).toBe(1006);
    expect(ws.socket.readyState).toBe(WebSocket.OPEN);
  });
});
