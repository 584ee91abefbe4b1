import { Writable } from 'node:stream';
import type { Socket } from 'node:net';
import pino from 'pino';
import { bearer, signUp } from '../../helpers/auth';
import { startTestServer, type TestServer } from '../../helpers/server';
import { connectWs, type RawClient } from '../../helpers/ws';

const EVENTS = 'subscription { itemEvents { type id version item { description } } }';
const CREATE = 'mutation($input: CreateItemInput!) { createItem(input: $input) { id } }';
const UPDATE = 'mutation($id: ID!, $input: UpdateItemInput!) { updateItem(id: $id, input: $input) { version } }';

const lines: Array<Record<string, unknown>> = [];
let t: TestServer;

beforeAll(async () => {
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(line));
      done();
    },
  });
  t = await startTestServer({ WS_MAX_QUEUED_EVENTS: '20', WS_MAX_SUBSCRIPTIONS: '10' }, pino({ level: 'warn' }, sink));
}, 90_000);
afterAll(() => t.stop());

async function subscribeAll(ws: RawClient, n: number): Promise<void> {
  for (let i = 0; i < n; i++) ws.subscribe(String(i), EVENTS);
  ws.send({ type: 'ping' });
  await ws.next('pong');
}

it('disconnects a consumer that stops reading instead of buffering for it, and keeps serving the others', async () => {
  const user = await signUp(t);
  const slow = await connectWs(t.url, `Bearer ${user.accessToken}`);
  const healthy = await connectWs(t.url, `Bearer ${user.accessToken}`);
  await subscribeAll(slow, 10);
  await subscribeAll(healthy, 1);
  // The client stops reading: the server's writes fill the TCP buffers, then its queues.
  const raw = (slow.socket as unknown as { _socket: Socket })._socket;
  raw.pause();

  const created = await t.gql<{ createItem: { id: string } }>(
    CREATE,
    { input: { name: 'big' } },
    bearer(user.accessToken),
  );
  const id = created.body.data!.createItem.id;
  // Near the 5000-character limit, so each event is about 5 KB.
  const description = 'x'.repeat(4990);
  const dropped = () => lines.some((l) => l.msg === 'realtime: slow consumer disconnected');
  let updates = 0;
  while (!dropped() && updates < 3000) {
    const batch = await Promise.all(
      Array.from({ length: 8 }, () =>
        t.gql(UPDATE, { id, input: { description: `${description}${updates++}` } }, bearer(user.accessToken)),
      ),
    );
    for (const res of batch) expect(res.body.errors).toBeUndefined();
  }
  expect(dropped()).toBe(true);

  // The healthy socket saw every version up to the last one, in order.
  let last = 0;
  while (last < updates + 1) {
    const { data } = await healthy.event<{ itemEvents: { version: number } }>('0');
    expect(data!.itemEvents.version).toBeGreaterThan(last);
    last = data!.itemEvents.version;
  }
  healthy.close();

  // Once the slow client reads again, it finds its connection closed.
  raw.resume();
  expect([1006, 1013]).toContain((await slow.closed).code);
}, 90_000);
