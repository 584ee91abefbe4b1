import type { Socket } from 'node:net';
import { MongoClient } from 'mongodb';
import { signUp } from '../../helpers/auth';
import { graphqlClient } from '../../helpers/graphql';
import { startInstance, stopAllInstances } from '../../helpers/instance';
import { closedYet, createItem, readiness, subscribeItems, type ItemEventData } from '../../helpers/realtime';
import { startTestServer, type TestServer } from '../../helpers/server';
import { connectWs, openRaw, wsUrl, type Closed, type RawClient } from '../../helpers/ws';

/**
 * Shutdown: draining begins first (/ready answers 503 while SHUTDOWN_DELAY_MS runs), then the
 * open sockets are closed with 1001 SERVER_SHUTTING_DOWN so clients reconnect elsewhere, and no
 * new socket is accepted. The in-process server is stopped by the last test of this file.
 */

const DELAY_MS = 2500;
let t: TestServer;
const open: RawClient[] = [];

beforeAll(async () => {
  t = await startTestServer({ SHUTDOWN_DELAY_MS: String(DELAY_MS) });
});

afterEach(() => {
  for (const c of open.splice(0)) c.close();
});

afterAll(async () => {
  await stopAllInstances();
  await t?.stop();
  // The last test stopped the server itself, before t.stop() could drop the database.
  if (t) {
    const client = await MongoClient.connect(t.config.mongodbUri!);
    await client.db().dropDatabase();
    await client.close();
  }
}, 60_000);

async function connect(url: string, token: string): Promise<RawClient> {
  const ws = await connectWs(url, `Bearer ${token}`);
  open.push(ws);
  return ws;
}

describe('a spawned API process receiving SIGTERM', () => {
  it('closes its sockets with 1001 SERVER_SHUTTING_DOWN and exits 0', async () => {
    const instance = await startInstance({ MONGODB_URI: t.config.mongodbUri!, JWT_SECRET: t.config.jwt.secret });
    const client = graphqlClient(instance.url);
    const [alice, bob] = await Promise.all([signUp(client), signUp(client)]);
    const sockets = [await connect(instance.url, alice.accessToken), await connect(instance.url, bob.accessToken)];
    await Promise.all(sockets.map((ws) => subscribeItems(ws, 'all')));

    instance.child.kill('SIGTERM');

    for (const ws of sockets) expect(await ws.closed).toEqual({ code: 1001, reason: 'SERVER_SHUTTING_DOWN' });
    expect(await instance.exit).toEqual({ code: 0, signal: null });
    expect(instance.lines.some((l) => l.msg === 'stopped')).toBe(true);
  }, 90_000);
});

describe('server.stop() (what SIGTERM calls)', () => {
  it('answers /ready 503 first, keeps delivering during the delay, then closes sockets with 1001 and refuses new ones', async () => {
    const [alice, bob] = await Promise.all([signUp(t), signUp(t)]);
    const ws = await connect(t.url, bob.accessToken);
    await subscribeItems(ws, 'watch', { ownerId: alice.user.id });
    // A client that does not read the close frame: stop() waits for it (up to 2 s) before the
    // HTTP server closes, the window in which a new upgrade must be refused, not served.
    const stubborn = await connect(t.url, alice.accessToken);
    const closedAt: { at?: number; closed?: Closed } = {};
    void ws.closed.then((closed) => Object.assign(closedAt, { at: Date.now(), closed }));
    expect(await readiness(t.url)).toEqual({ status: 200, body: { status: 'ok', database: 'up' } });

    (stubborn.socket as unknown as { _socket: Socket })._socket.pause();
    const stopping = t.server.stop();

    // Draining begins first: /ready says 503 while the socket is still open and served.
    const ready = await readiness(t.url);
    const readyAt = Date.now();
    expect(ready).toEqual({ status: 503, body: { status: 'unavailable', database: 'draining' } });
    expect(await closedYet(ws)).toBeUndefined();
    const item = await createItem(t, alice.accessToken, { name: 'during the delay' });
    expect((await ws.event<ItemEventData>('watch')).data!.itemEvents).toMatchObject({ type: 'CREATED', id: item.id });

    expect(await ws.closed).toEqual({ code: 1001, reason: 'SERVER_SHUTTING_DOWN' });
    expect(closedAt.at).toBeGreaterThan(readyAt);
    // A new upgrade now is refused (503 while the stubborn socket holds the server open).
    await expect(openRaw(wsUrl(t.url))).rejects.toThrow('upgrade refused: 503');

    await stopping;
    // The server cut it off; the paused client side would otherwise wait for a close frame.
    stubborn.socket.terminate();
    await expect(openRaw(wsUrl(t.url))).rejects.toThrow(/ECONNREFUSED/);
  }, 60_000);
});
