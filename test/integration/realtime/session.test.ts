import { UserModel } from '../../../src/users/user.model';
import { bearer, logIn, signUp, strongPassword, uniqueEmail } from '../../helpers/auth';
import { startTestServer, type TestServer } from '../../helpers/server';
import { connectWs, type RawClient } from '../../helpers/ws';

const EVENTS = 'subscription { itemEvents { type id version item { name } } }';
const CREATE = 'mutation($input: CreateItemInput!) { createItem(input: $input) { id } }';

const ADMIN_EMAIL = uniqueEmail('admin');
const ADMIN_PASSWORD = strongPassword();
let t: TestServer;
const open: RawClient[] = [];

beforeAll(async () => {
  t = await startTestServer({
    ADMIN_EMAIL,
    ADMIN_PASSWORD,
    // Short-lived access tokens (each test below finishes well within one): the socket must
    // close when its token expires.
    ACCESS_TOKEN_TTL: '10',
    WS_AUTH_RECHECK_SECONDS: '1',
    REQUIRE_EMAIL_VERIFICATION: 'true',
  });
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

async function subscribed(ws: RawClient, id: string): Promise<void> {
  ws.subscribe(id, EVENTS);
  ws.send({ type: 'ping' });
  await ws.next('pong');
}

it('closes the socket with 4401 TOKEN_EXPIRED when its access token expires', async () => {
  const admin = await logIn(t, ADMIN_EMAIL, ADMIN_PASSWORD);
  const ws = await connect(admin.accessToken);
  await subscribed(ws, 'expiring');
  expect(await ws.closed).toEqual({ code: 4401, reason: 'TOKEN_EXPIRED' });
});

it('notices a change made straight in the database at the periodic check (WS_AUTH_RECHECK_SECONDS)', async () => {
  const user = await signUp(t);
  const ws = await connect(user.accessToken);
  // Not through the API, so no notice: only the periodic check can see it.
  await UserModel.updateOne({ _id: user.user.id }, { $set: { disabled: true } });
  expect(await ws.closed).toEqual({ code: 4401, reason: 'SESSION_REVOKED' });
});

it('applies the shield rule when a subscription starts, and again for each event', async () => {
  const user = await signUp(t);
  const ws = await connect(user.accessToken);
  // REQUIRE_EMAIL_VERIFICATION: an unverified account may not subscribe.
  ws.subscribe('early', EVENTS);
  const refused = await ws.event('early');
  expect(refused.errors).toEqual([
    expect.objectContaining({
      extensions: expect.objectContaining({ code: 'FORBIDDEN', reason: 'EMAIL_NOT_VERIFIED' }),
    }),
  ]);
  expect((await ws.next('complete')).id).toBe('early');

  // Verified (straight in the database): the periodic check brings the new status to the socket.
  await UserModel.updateOne({ _id: user.user.id }, { $set: { emailVerified: true } });
  let accepted = false;
  for (let attempt = 0; attempt < 60 && !accepted; attempt++) {
    await new Promise((r) => setTimeout(r, 100));
    ws.subscribe(`try${attempt}`, EVENTS);
    ws.send({ type: 'ping' });
    await ws.next('pong');
    const answer = await ws.nextWhere((m) => m.id === `try${attempt}`, 200, 'answer').catch(() => undefined); // no answer: the subscription is live
    accepted = answer === undefined;
  }
  expect(accepted).toBe(true);
  const admin = await logIn(t, ADMIN_EMAIL, ADMIN_PASSWORD);
  const live = [...Array(60).keys()].map((i) => `try${i}`);
  await t.gql(CREATE, { input: { name: 'verified news' } }, bearer(admin.accessToken));
  const event = await ws.nextWhere((m) => live.includes(m.id ?? '') && m.type === 'next');
  expect(event.payload).toMatchObject({ data: { itemEvents: { type: 'CREATED', item: { name: 'verified news' } } } });

  // Unverified again: the rule is evaluated per event, so the next event is refused, not delivered.
  await UserModel.updateOne({ _id: user.user.id }, { $set: { emailVerified: false } });
  await new Promise((r) => setTimeout(r, 1500));
  const fresh = await logIn(t, ADMIN_EMAIL, ADMIN_PASSWORD);
  await t.gql(CREATE, { input: { name: 'secret news' } }, bearer(fresh.accessToken));
  const denied = await ws.nextWhere((m) => live.includes(m.id ?? '') && m.type === 'next');
  expect(denied.payload).toMatchObject({
    data: null,
    errors: [expect.objectContaining({ extensions: expect.objectContaining({ reason: 'EMAIL_NOT_VERIFIED' }) })],
  });
  expect(JSON.stringify(denied.payload)).not.toContain('secret news');
});
