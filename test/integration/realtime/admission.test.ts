import http from 'node:http';
import { signUp } from '../../helpers/auth';
import { startTestServer, type TestServer } from '../../helpers/server';
import { tryOpen, wsUrl, type RawClient, type Refused } from '../../helpers/ws';

/**
 * Sockets that have not finished connection_init are capped per client address and in all
 * (WS_MAX_UNAUTHENTICATED_PER_IP, WS_MAX_UNAUTHENTICATED): past either cap the upgrade is refused
 * with 429 and Retry-After, before any WebSocket is set up. A socket stops counting once its
 * connection_init is acknowledged, or when it closes, however it closes. The client address is
 * read as for HTTP: here TRUST_PROXY=loopback, so X-Forwarded-For names it.
 */

let t: TestServer;
const open: RawClient[] = [];

afterEach(async () => {
  const closing = open.splice(0);
  for (const c of closing) c.close();
  await Promise.all(closing.map((c) => c.closed));
});

const from = (ip: string) => ({ headers: { 'x-forwarded-for': ip } });

/** Opens a socket from `ip` and expects the upgrade to be accepted. */
async function accepted(ip: string): Promise<RawClient> {
  const opened = await tryOpen(wsUrl(t.url), from(ip));
  if ('status' in opened) throw new Error(`expected the upgrade from ${ip} to be accepted, got ${opened.status}`);
  open.push(opened);
  return opened;
}

/** Opens a socket from `ip` and expects the upgrade to be refused; returns the HTTP answer. */
async function refused(ip: string): Promise<Refused> {
  const opened = await tryOpen(wsUrl(t.url), from(ip));
  if (!('status' in opened)) {
    open.push(opened);
    throw new Error(`expected the upgrade from ${ip} to be refused, it was accepted`);
  }
  return opened;
}

/**
 * The server frees a slot when it sees the socket close, a moment after the client does: retries
 * an upgrade from `ip` for a short while until it is accepted.
 */
async function acceptedAgain(ip: string): Promise<RawClient> {
  for (let attempt = 0; ; attempt++) {
    const opened = await tryOpen(wsUrl(t.url), from(ip));
    if (!('status' in opened)) {
      open.push(opened);
      return opened;
    }
    expect(opened.status).toBe(429);
    if (attempt > 100) throw new Error(`the slot of ${ip} was never freed`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** An upgrade request without Sec-WebSocket-Key, which the handshake answers with 400. */
function malformedUpgrade(ip: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request(`${t.url}/graphql`, {
      headers: { connection: 'Upgrade', upgrade: 'websocket', 'x-forwarded-for': ip },
    });
    req.once('response', (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.once('upgrade', (_res, socket) => {
      socket.destroy();
      reject(new Error('the malformed upgrade was accepted'));
    });
    req.once('error', reject);
    req.end();
  });
}

async function authenticate(ws: RawClient, token: string): Promise<void> {
  expect(await ws.init({ authorization: `Bearer ${token}` })).toEqual({ type: 'connection_ack' });
}

describe('the per-address cap (3 sockets before connection_init per client address)', () => {
  beforeAll(async () => {
    t = await startTestServer({
      TRUST_PROXY: 'loopback',
      WS_MAX_UNAUTHENTICATED_PER_IP: '3',
      // Longer than any test: no socket here is closed by the init timeout.
      WS_CONNECTION_INIT_TIMEOUT_MS: '60000',
    });
  });
  afterAll(() => t.stop());

  it('refuses the upgrade past the cap with 429 and Retry-After, and accepts again once one closes or signs in', async () => {
    const user = await signUp(t);
    const three = [await accepted('203.0.113.10'), await accepted('203.0.113.10'), await accepted('203.0.113.10')];
    const answer = await refused('203.0.113.10');
    expect(answer.status).toBe(429);
    // A slot frees at the latest when the init timeout (60 s) ends.
    expect(answer.headers['retry-after']).toBe('60');
    // Per address: another address is still accepted.
    await accepted('203.0.113.11');

    // Closed before connection_init: its slot comes back.
    three[0]!.close();
    await three[0]!.closed;
    await acceptedAgain('203.0.113.10');
    expect((await refused('203.0.113.10')).status).toBe(429);

    // Signed in (connection_ack): it no longer counts.
    await authenticate(three[1]!, user.accessToken);
    await accepted('203.0.113.10');
    expect((await refused('203.0.113.10')).status).toBe(429);
  });

  it('counts IPv6 clients per /64, as the HTTP limits do', async () => {
    for (const ip of ['2001:db8:1:2::1', '2001:db8:1:2::2', '2001:db8:1:2:ffff::3']) await accepted(ip);
    expect((await refused('2001:db8:1:2:abcd::4')).status).toBe(429);
    await accepted('2001:db8:1:3::1');
  });

  it('does not count signed-in sockets', async () => {
    const user = await signUp(t);
    for (let i = 0; i < 3; i++) await authenticate(await accepted('192.0.2.1'), user.accessToken);
    for (let i = 0; i < 3; i++) await accepted('192.0.2.1');
    expect((await refused('192.0.2.1')).status).toBe(429);
  });

  it('frees the slot of a socket whose connection_init is refused', async () => {
    const sockets = [await accepted('192.0.2.9'), await accepted('192.0.2.9'), await accepted('192.0.2.9')];
    expect((await refused('192.0.2.9')).status).toBe(429);
    for (const ws of sockets)
      expect(await ws.init({ authorization: 'Bearer not-a-token' })).toMatchObject({ code: 4401 });
    for (let i = 0; i < 3; i++) await acceptedAgain('192.0.2.9');
  });

  it('frees the slot of an upgrade the WebSocket handshake refuses (400)', async () => {
    for (let i = 0; i < 3; i++) expect(await malformedUpgrade('192.0.2.20')).toBe(400);
    for (let i = 0; i < 3; i++) await acceptedAgain('192.0.2.20');
    expect((await refused('192.0.2.20')).status).toBe(429);
  });

  it('counts the TCP peer when the upgrade names no forwarded address', async () => {
    const direct = () => tryOpen(wsUrl(t.url));
    for (let i = 0; i < 3; i++) {
      const opened = await direct();
      expect('status' in opened).toBe(false);
      open.push(opened as RawClient);
    }
    expect(((await direct()) as Refused).status).toBe(429);
  });
});

describe('the global cap (5 sockets before connection_init in all, 3 per address)', () => {
  beforeAll(async () => {
    t = await startTestServer({
      TRUST_PROXY: 'loopback',
      WS_MAX_UNAUTHENTICATED_PER_IP: '3',
      WS_MAX_UNAUTHENTICATED: '5',
      WS_CONNECTION_INIT_TIMEOUT_MS: '60000',
    });
  });
  afterAll(() => t.stop());

  it('refuses the upgrade from any address once five wait, not counting signed-in ones, until one closes', async () => {
    const user = await signUp(t);
    const sockets = [];
    for (const ip of ['198.51.100.1', '198.51.100.1', '198.51.100.1', '198.51.100.2', '198.51.100.2'])
      sockets.push(await accepted(ip));
    // A fresh address, under its own cap: refused by the global one.
    const answer = await refused('198.51.100.3');
    expect(answer.status).toBe(429);
    expect(answer.headers['retry-after']).toBe('60');

    // Two sign in: two fresh sockets fit, and no third.
    await authenticate(sockets[0]!, user.accessToken);
    await authenticate(sockets[3]!, user.accessToken);
    await accepted('198.51.100.3');
    await accepted('198.51.100.4');
    expect((await refused('198.51.100.5')).status).toBe(429);

    // One closes before connection_init: one more fits.
    sockets[4]!.close();
    await acceptedAgain('198.51.100.5');
    expect((await refused('198.51.100.6')).status).toBe(429);
  });
});

describe('the init timeout frees the slot (1 per address, 1 s to send connection_init)', () => {
  beforeAll(async () => {
    t = await startTestServer({
      TRUST_PROXY: 'loopback',
      WS_MAX_UNAUTHENTICATED_PER_IP: '1',
      WS_CONNECTION_INIT_TIMEOUT_MS: '1000',
    });
  });
  afterAll(() => t.stop());

  it('accepts a new socket from the address once the silent one was closed with 4408', async () => {
    const silent = await accepted('203.0.113.50');
    const answer = await refused('203.0.113.50');
    expect(answer.status).toBe(429);
    expect(answer.headers['retry-after']).toBe('1');
    expect((await silent.closed).code).toBe(4408);
    await acceptedAgain('203.0.113.50');
  });
});
