import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { withDatabaseName } from '../../../src/infra/db';
import { startFerretdb, freePort, type RunningFerretdb } from '../../../src/infra/ferretdb';
import { codes } from '../../helpers/graphql';
import { startTestServer, type TestServer } from '../../helpers/server';

/**
 * The service against its own database engine, which the test stops and starts again, to
 * see how it behaves while the database is away and whether it recovers by itself.
 */
describe('when the database becomes unreachable', () => {
  const logger = pino({ level: 'silent' });
  // The service's own log, kept in memory so the test can read what it reported.
  const logLines: Array<{ level: number; msg: string }> = [];
  const apiLogger = pino({ level: 'warn' }, { write: (line: string) => void logLines.push(JSON.parse(line)) });
  let dataDir: string;
  let port: number;
  let engine: RunningFerretdb | undefined;
  let api: TestServer;
  let token: string;
  const names = Array.from({ length: 5 }, (_, i) => `before-outage-${i}`);

  async function until(check: () => Promise<boolean>, ms: number): Promise<boolean> {
    const deadline = Date.now() + ms;
    while (Date.now() < deadline) {
      if (await check().catch(() => false)) return true;
      await new Promise((r) => setTimeout(r, 250));
    }
    return false;
  }

  beforeAll(async () => {
    // This engine is only for this file: stopping it leaves every other test file's database alone.
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'api-faults-'));
    port = await freePort();
    engine = await startFerretdb(dataDir, logger, port);
    api = await startTestServer({ MONGODB_URI: withDatabaseName(engine.uri, 'faults') }, apiLogger);
    const reg = await api.gql('mutation($i: RegisterInput!) { register(input: $i) { accessToken } }', {
      i: { email: 'faults@example.com', password: 'Outage-Horse-Battery-5' },
    });
    token = reg.body.data!.register.accessToken;
    for (const name of names) {
      const res = await api.gql(
        'mutation($n: String!) { createItem(input: { name: $n }) { id } }',
        { n: name },
        { authorization: `Bearer ${token}` },
      );
      expect(res.body.errors).toBeUndefined();
    }
  }, 60_000);

  afterAll(async () => {
    await api?.stop().catch(() => undefined);
    await engine?.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('fails requests that need the database within 5 s with a generic error, /ready 503, /health 200', async () => {
    await engine!.stop();
    engine = undefined;

    const started = Date.now();
    const res = await api.gql('{ items { totalCount } }', undefined, { authorization: `Bearer ${token}` });
    expect(Date.now() - started).toBeLessThan(5000);
    expect(res.status).toBeGreaterThanOrEqual(500);
    expect(res.status).not.toBe(500);
    expect(codes(res)).toEqual(['INTERNAL_SERVER_ERROR']);
    expect(res.body.errors![0]!.message).not.toMatch(/mongo|ferret|127\.0\.0\.1|ECONNREFUSED|\.ts|\.js/i);

    // A request that needs the database only in its resolver fails the same way.
    const anonymous = Date.now();
    const login = await api.gql(
      'mutation { login(input: { email: "faults@example.com", password: "x" }) { accessToken } }',
    );
    expect(Date.now() - anonymous).toBeLessThan(5000);
    expect(codes(login)).toEqual(['INTERNAL_SERVER_ERROR']);

    // HTTP Basic needs the database to check the password: 503 with Retry-After, not a 401.
    logLines.length = 0;
    const viaBasic = await api.gql('{ me { id } }', undefined, {
      authorization: `Basic ${Buffer.from('faults@example.com:Outage-Horse-Battery-5').toString('base64')}`,
    });
    expect(viaBasic.status).toBe(503);
    expect(Number(viaBasic.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(codes(viaBasic)).toEqual(['INTERNAL_SERVER_ERROR']);
    expect(logLines.some((l) => l.level >= 50)).toBe(true);

    // So does the OAuth token endpoint, in its own error format.
    const oauth = await fetch(`${api.url}/oauth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'grant_type=password&username=faults%40example.com&password=Outage-Horse-Battery-5',
    });
    expect(oauth.status).toBe(503);
    expect(Number(oauth.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(await oauth.json()).toEqual(expect.objectContaining({ error: 'temporarily_unavailable' }));

    const ready = await fetch(`${api.url}/ready`);
    expect(ready.status).toBe(503);
    expect(await ready.json()).toEqual({ status: 'unavailable', database: 'down' });
    expect((await fetch(`${api.url}/health`)).status).toBe(200);
  }, 30_000);

  it('recovers by itself when the database comes back, with every earlier write still there', async () => {
    engine = await startFerretdb(dataDir, logger, port);
    const recovered = await until(async () => (await fetch(`${api.url}/ready`)).status === 200, 20_000);
    expect(recovered).toBe(true);

    const res = await api.gql('{ items(first: 100) { totalCount edges { node { name } } } }', undefined, {
      authorization: `Bearer ${token}`,
    });
    expect(res.status).toBe(200);
    expect(res.body.data!.items.totalCount).toBe(names.length);
    expect(res.body.data!.items.edges.map((e: { node: { name: string } }) => e.node.name).sort()).toEqual(
      [...names].sort(),
    );
  }, 30_000);
});
