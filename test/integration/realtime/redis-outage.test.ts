import { Writable } from 'node:stream';
import pino from 'pino';
import { freePort } from '../../../src/infra/ferretdb';
import { eventBus } from '../../../src/infra/events';
import { signUp } from '../../helpers/auth';
import { graphqlClient } from '../../helpers/graphql';
import { startInstance, stopAllInstances } from '../../helpers/instance';
import {
  createItem,
  eventually,
  readiness,
  subscribeItems,
  updateItem,
  type ItemEventData,
} from '../../helpers/realtime';
import { startRedis, type RunningRedis } from '../../helpers/redis';
import { startTestServer, type TestServer } from '../../helpers/server';
import { connectWs, openRaw, wsUrl, type RawClient } from '../../helpers/ws';

/**
 * A Redis outage must not fail mutations: publishing errors are logged and counted, sockets are
 * closed with a retryable code (1013), and delivery resumes when Redis is back.
 */

let redis: RunningRedis;
let t: TestServer;
const logs: Array<Record<string, unknown>> = [];
const open: RawClient[] = [];

beforeAll(async () => {
  redis = await startRedis();
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n')) if (line) logs.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  t = await startTestServer({ REDIS_URL: redis.url }, pino({ level: 'info' }, sink));
  await eventually(() => eventBus().up, 'event bus up');
}, 60_000);

afterEach(() => {
  for (const c of open.splice(0)) c.close();
});

afterAll(async () => {
  await stopAllInstances();
  await t?.stop();
  await redis?.stop();
}, 60_000);

function track(ws: RawClient): RawClient {
  open.push(ws);
  return ws;
}

/**
 * Once a socket is accepted again: updates `update` until one's event reaches subscription `id`
 * (the publisher reconnects on its own clock, at most 2 s apart, so an early update may be lost).
 */
async function deliveredAgain(
  ws: RawClient,
  id: string,
  update: () => Promise<{ version: number }>,
): Promise<{ version: number }> {
  return eventually(
    async () => {
      const { version } = await update();
      // An event of an earlier attempt that arrived late is skipped over.
      await ws.nextWhere(
        (m) => m.id === id && (m.payload as { data?: ItemEventData }).data?.itemEvents.version === version,
        1500,
        `event version ${version}`,
      );
      return { version };
    },
    'an event after Redis returned',
    30_000,
    0,
  );
}

describe('Redis outage and restart', () => {
  it('while Redis is down: mutations succeed, failures are counted and logged, sockets close and are refused with 1013; then delivery resumes', async () => {
    const alice = await signUp(t);
    const ws = track(await connectWs(t.url, `Bearer ${alice.accessToken}`));
    await subscribeItems(ws, 'mine', { mine: true });
    const item = await createItem(t, alice.accessToken, { name: 'before' });
    expect((await ws.event<ItemEventData>('mine')).data!.itemEvents).toMatchObject({ type: 'CREATED', id: item.id });

    const { port } = redis;
    await redis.stop();

    expect(await ws.closed).toEqual({ code: 1013, reason: 'EVENTS_UNAVAILABLE' });
    expect(eventBus().up).toBe(false);
    // HTTP is still served: Redis carries only subscriptions.
    expect(await readiness(t.url)).toEqual({ status: 200, body: { status: 'ok', database: 'up', events: 'down' } });

    const failuresBefore = eventBus().publishFailures;
    const updated = await updateItem(t, alice.accessToken, item.id, { name: 'during' });
    expect(updated).toEqual({ id: item.id, version: 2 });
    const other = await createItem(t, alice.accessToken, { name: 'created during' });
    expect(other.version).toBe(1);
    const res = await t.gql(
      'query($id: ID!) { item(id: $id) { name version } }',
      { id: item.id },
      {
        authorization: `Bearer ${alice.accessToken}`,
      },
    );
    expect(res.body.data).toEqual({ item: { name: 'during', version: 2 } });
    await eventually(() => eventBus().publishFailures >= failuresBefore + 2, 'two publish failures counted');
    const logged = logs.find((l) => l.msg === 'event bus: could not publish to Redis');
    expect(logged).toMatchObject({ level: 50, channel: expect.any(String), failedTotal: expect.any(Number) });
    expect(
      logs.some((l) => l.msg === 'event bus: Redis connection lost; real-time clients are asked to reconnect'),
    ).toBe(true);

    // A new connection is refused at connection_init, with the same retryable code.
    const refused = track(await openRaw(wsUrl(t.url)));
    expect(await refused.init({ authorization: `Bearer ${alice.accessToken}` })).toEqual({
      code: 1013,
      reason: 'EVENTS_UNAVAILABLE',
    });

    redis = await startRedis({ port });

    const again = await eventually(async () => {
      const client = await openRaw(wsUrl(t.url));
      const answer = await client.init({ authorization: `Bearer ${alice.accessToken}` });
      if ('type' in answer) return track(client);
      client.close();
      expect(answer).toEqual({ code: 1013, reason: 'EVENTS_UNAVAILABLE' });
      return undefined;
    }, 'a connection accepted after Redis returned');
    expect(await readiness(t.url)).toEqual({ status: 200, body: { status: 'ok', database: 'up', events: 'up' } });
    await subscribeItems(again, 'mine', { mine: true });
    let n = 0;
    const { version } = await deliveredAgain(again, 'mine', () =>
      updateItem(t, alice.accessToken, item.id, { name: `after ${++n}` }),
    );
    // And the ones after that, in order.
    for (const next of [version + 1, version + 2]) {
      await updateItem(t, alice.accessToken, item.id, { name: `v${next}` });
      expect((await again.event<ItemEventData>('mine')).data!.itemEvents).toMatchObject({
        type: 'UPDATED',
        version: next,
        item: { name: `v${next}` },
      });
    }
  }, 90_000);

  it('a quick restart (same port) also closes open sockets with 1013, and reconnecting clients get events', async () => {
    const bob = await signUp(t);
    const ws = track(await connectWs(t.url, `Bearer ${bob.accessToken}`));
    await subscribeItems(ws, 'mine', { mine: true });
    const item = await createItem(t, bob.accessToken, { name: 'x' });
    await ws.event('mine');

    await redis.restart();

    expect(await ws.closed).toEqual({ code: 1013, reason: 'EVENTS_UNAVAILABLE' });
    const again = await eventually(async () => {
      const client = await openRaw(wsUrl(t.url));
      if ('type' in (await client.init({ authorization: `Bearer ${bob.accessToken}` }))) return track(client);
      client.close();
      return undefined;
    }, 'a connection accepted after the restart');
    await subscribeItems(again, 'mine', { mine: true });
    let n = 0;
    await deliveredAgain(again, 'mine', () => updateItem(t, bob.accessToken, item.id, { name: `r${++n}` }));
  }, 60_000);
});

describe('starting while nothing listens at REDIS_URL', () => {
  it('starts, serves mutations, refuses sockets with 1013, recovers when Redis comes up, and stops cleanly on SIGTERM', async () => {
    const port = await freePort();
    const instance = await startInstance({
      MONGODB_URI: t.config.mongodbUri!,
      JWT_SECRET: t.config.jwt.secret,
      REDIS_URL: `redis://127.0.0.1:${port}`,
    });
    const client = graphqlClient(instance.url);
    expect(await readiness(instance.url)).toEqual({
      status: 200,
      body: { status: 'ok', database: 'up', events: 'down' },
    });
    const carol = await signUp(client);
    const item = await createItem(client, carol.accessToken, { name: 'no redis' });
    expect(item.version).toBe(1);
    expect(await updateItem(client, carol.accessToken, item.id, { name: 'still none' })).toEqual({
      id: item.id,
      version: 2,
    });
    const logged = await instance.waitForLine(
      (l) => l.msg === 'event bus: could not publish to Redis',
      10_000,
      'publish failure',
    );
    expect(logged).toMatchObject({ level: 50, failedTotal: expect.any(Number) });

    const refused = track(await openRaw(wsUrl(instance.url)));
    expect(await refused.init({ authorization: `Bearer ${carol.accessToken}` })).toEqual({
      code: 1013,
      reason: 'EVENTS_UNAVAILABLE',
    });

    const late = await startRedis({ port });
    try {
      const ws = await eventually(async () => {
        const c = await openRaw(wsUrl(instance.url));
        if ('type' in (await c.init({ authorization: `Bearer ${carol.accessToken}` }))) return track(c);
        c.close();
        return undefined;
      }, 'a connection accepted once Redis is up');
      await subscribeItems(ws, 'mine', { mine: true });
      let n = 0;
      await deliveredAgain(ws, 'mine', () => updateItem(client, carol.accessToken, item.id, { name: `up ${++n}` }));
    } finally {
      await late.stop();
    }

    // Redis gone again: SIGTERM still stops the instance cleanly (no wait for Redis).
    await eventually(async () => (await readiness(instance.url)).body.events === 'down', 'events down');
    expect(await instance.stop()).toEqual({ code: 0, signal: null });
    expect(instance.lines.some((l) => l.msg === 'stopped')).toBe(true);
  }, 120_000);

  it('stops cleanly on SIGTERM when Redis was never reachable', async () => {
    const instance = await startInstance({
      MONGODB_URI: t.config.mongodbUri!,
      JWT_SECRET: t.config.jwt.secret,
      REDIS_URL: `redis://127.0.0.1:${await freePort()}`,
      // The forced exit would come after 0 + 10 s + 10 s, with code 1.
      SHUTDOWN_TIMEOUT_MS: '10000',
    });
    const dave = await signUp(graphqlClient(instance.url));
    await createItem(graphqlClient(instance.url), dave.accessToken, { name: 'queued nowhere' });
    expect(await instance.stop()).toEqual({ code: 0, signal: null });
    expect(instance.lines.some((l) => l.msg === 'shutdown took too long: exiting')).toBe(false);
    expect(instance.lines.some((l) => l.msg === 'stopped')).toBe(true);
  }, 90_000);
});
