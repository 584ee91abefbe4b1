import net from 'node:net';
import mongoose from 'mongoose';
import { bearer, LOGIN, signUp, strongPassword } from '../../helpers/auth';
import { codes } from '../../helpers/graphql';
import { startTestServer, testConfig, TEST_MAIL_WORKER, type TestServer } from '../../helpers/server';
import { connectWs } from '../../helpers/ws';
import { AuditEventType } from '../../../src/audit/audit.model';
import { createServer } from '../../../src/app/server';

type Labels = Record<string, string>;
interface Sample {
  name: string;
  labels: Labels;
  value: number;
}

/** The samples of a Prometheus text exposition (comments skipped). */
function parse(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) continue;
    const labels: Labels = {};
    for (const [, k, v] of (m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[k!] = v!;
    samples.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return samples;
}

/** The sum of the samples named `name` whose labels include `labels` (0 when none). */
function value(samples: Sample[], name: string, labels: Labels = {}): number {
  return samples
    .filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
    .reduce((sum, s) => sum + s.value, 0);
}

async function scrape(url: string): Promise<Sample[]> {
  const res = await fetch(url);
  expect(res.status).toBe(200);
  return parse(await res.text());
}

/** Polls until `check` holds (counters set after the response is sent, gauges after a socket closes). */
async function eventually(check: () => Promise<boolean>, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Counts the servers `run` starts listening (the spy calls through: they really listen). */
async function listensDuring(run: () => Promise<void>): Promise<number> {
  const listen = jest.spyOn(net.Server.prototype, 'listen');
  try {
    await run();
    return listen.mock.calls.length;
  } finally {
    listen.mockRestore();
  }
}

/** Rate limits by name, as rate_limited_total labels them. */
const RATE_LIMITS = [
  'login',
  'register',
  'changePassword',
  'refreshToken',
  'oauth',
  'requestPasswordReset',
  'linkMail',
  'passkey',
  'signInCode',
  'reauthenticate',
  'oidc',
  'apiKey',
  'itemWrite',
  'read',
  'invitation',
];

/** The codes clients branch on (docs/api.md), and INTERNAL_SERVER_ERROR. */
const ERROR_CODES = [
  'UNAUTHENTICATED',
  'FORBIDDEN',
  'BAD_USER_INPUT',
  'NOT_FOUND',
  'CONFLICT',
  'TOO_MANY_REQUESTS',
  'SERVICE_UNAVAILABLE',
  'GRAPHQL_PARSE_FAILED',
  'GRAPHQL_VALIDATION_FAILED',
  'PERSISTED_QUERY_NOT_FOUND',
  'TRUSTED_DOCUMENT_REQUIRED',
  'INTERNAL_SERVER_ERROR',
];

describe('metrics right after start', () => {
  it('shows a zero sample for every known error code, auth event and rate limit before any traffic', async () => {
    const t = await startTestServer({}, undefined, { metricsPort: 0 });
    try {
      const samples = await scrape(t.server.metricsUrl!);
      const sampleOf = (name: string, label: string, v: string) =>
        samples.find((s) => s.name === name && s.labels[label] === v)?.value;
      const known: Array<[string, string, string[]]> = [
        ['graphql_errors_total', 'code', ERROR_CODES],
        ['auth_events_total', 'event', Object.values(AuditEventType).map((e) => e.toLowerCase())],
        ['rate_limited_total', 'limit', RATE_LIMITS],
      ];
      for (const [name, label, values] of known)
        for (const v of values) expect([name, v, sampleOf(name, label, v)]).toEqual([name, v, 0]);
    } finally {
      await t.stop();
    }
  });
});

describe('metrics', () => {
  let t: TestServer;
  let metricsUrl: string;

  beforeAll(async () => {
    // Two item writes per window, so the third is refused by a rate limit.
    t = await startTestServer({ WRITE_RATE_LIMIT_PER_USER: '2' }, undefined, { metricsPort: 0 });
    metricsUrl = t.server.metricsUrl!;
  });
  afterAll(() => t.stop());

  it('serves the Prometheus text format on METRICS_HOST, and the public port has no /metrics', async () => {
    expect(metricsUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
    expect(new URL(metricsUrl).port).not.toBe(new URL(t.url).port);
    const res = await fetch(metricsUrl);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const samples = parse(await res.text());
    // prom-client's default process metrics.
    for (const name of [
      'process_cpu_user_seconds_total',
      'nodejs_eventloop_lag_seconds',
      'nodejs_heap_size_used_bytes',
    ])
      expect(samples.some((s) => s.name === name)).toBe(true);

    expect((await fetch(`${t.url}/metrics`)).status).toBe(404);
    expect((await fetch(new URL('/other', metricsUrl))).status).toBe(404);
  });

  it('labels committed operations by name and every other one as "other", never by query text', async () => {
    const user = await signUp(t);
    expect((await t.gql('query Me { me { id } }', {}, bearer(user.accessToken))).status).toBe(200);
    await t.gql('query NotCommittedAnywhere { __typename }');
    await t.gql(`{ me { id email } }`, {}, bearer(user.accessToken));

    const samples = await scrape(metricsUrl);
    const count = 'graphql_operation_duration_seconds_count';
    expect(value(samples, count, { operation: 'Me', type: 'query', outcome: 'success' })).toBe(1);
    expect(value(samples, count, { operation: 'Register', type: 'mutation', outcome: 'success' })).toBe(1);
    expect(value(samples, count, { operation: 'other', type: 'query' })).toBe(2);
    const operations = new Set(samples.filter((s) => s.name === count).map((s) => s.labels.operation));
    expect(operations.has('NotCommittedAnywhere')).toBe(false);
    // Buckets and sums exist for the histogram.
    expect(value(samples, 'graphql_operation_duration_seconds_bucket', { operation: 'Me', le: '+Inf' })).toBe(1);
    expect(value(samples, 'graphql_operation_duration_seconds_sum', { operation: 'Me' })).toBeGreaterThan(0);
  });

  it('counts errors by code, with the outcome of the operation', async () => {
    const before = await scrape(metricsUrl);
    const res = await t.gql('query Sessions { sessions { id } }');
    expect(codes(res)).toEqual(['UNAUTHENTICATED']);
    const invalid = await t.gql('{ noSuchField }');
    expect(codes(invalid)).toEqual(['GRAPHQL_VALIDATION_FAILED']);

    const after = await scrape(metricsUrl);
    const delta = (name: string, labels: Labels) => value(after, name, labels) - value(before, name, labels);
    expect(delta('graphql_errors_total', { code: 'UNAUTHENTICATED' })).toBe(1);
    expect(delta('graphql_errors_total', { code: 'GRAPHQL_VALIDATION_FAILED' })).toBe(1);
    expect(delta('graphql_operation_duration_seconds_count', { operation: 'Sessions', outcome: 'error' })).toBe(1);
    expect(
      delta('graphql_operation_duration_seconds_count', { operation: 'other', type: 'unknown', outcome: 'error' }),
    ).toBe(1);
  });

  it('counts HTTP responses by route and status, unknown paths as "other"', async () => {
    const before = await scrape(metricsUrl);
    expect((await fetch(`${t.url}/health`)).status).toBe(200);
    expect((await fetch(`${t.url}/no/such/user@example.com`)).status).toBe(404);
    await eventually(async () => {
      const after = await scrape(metricsUrl);
      const delta = (labels: Labels) =>
        value(after, 'http_requests_total', labels) - value(before, 'http_requests_total', labels);
      return delta({ route: '/health', status: '200' }) === 1 && delta({ route: 'other', status: '404' }) === 1;
    });
    const routes = new Set(
      (await scrape(metricsUrl)).filter((s) => s.name === 'http_requests_total').map((s) => s.labels.route),
    );
    expect([...routes].every((r) => ['/graphql', '/health', 'other'].includes(r!))).toBe(true);
  });

  it('counts a failed and a successful login in auth_events_total', async () => {
    const user = await signUp(t);
    const before = await scrape(metricsUrl);
    const failed = await t.gql(LOGIN, { input: { email: user.email, password: strongPassword() } });
    expect(codes(failed)).toEqual(['UNAUTHENTICATED']);
    const ok = await t.gql(LOGIN, { input: { email: user.email, password: user.password } });
    expect(ok.body.data?.login).toBeTruthy();

    const after = await scrape(metricsUrl);
    const delta = (event: string) =>
      value(after, 'auth_events_total', { event }) - value(before, 'auth_events_total', { event });
    expect(delta('login_failed')).toBe(1);
    expect(delta('login_succeeded')).toBe(1);
  });

  it('counts a request refused by a rate limit in rate_limited_total, by limit', async () => {
    const user = await signUp(t);
    const create = 'mutation CreateItem($input: CreateItemInput!) { createItem(input: $input) { id } }';
    const before = await scrape(metricsUrl);
    for (const name of ['one', 'two']) {
      const res = await t.gql(create, { input: { name } }, bearer(user.accessToken));
      expect(res.body.errors).toBeUndefined();
    }
    const refused = await t.gql(create, { input: { name: 'three' } }, bearer(user.accessToken));
    expect(refused.status).toBe(429);
    expect(codes(refused)).toEqual(['TOO_MANY_REQUESTS']);

    const after = await scrape(metricsUrl);
    expect(
      value(after, 'rate_limited_total', { limit: 'itemWrite' }) -
        value(before, 'rate_limited_total', { limit: 'itemWrite' }),
    ).toBe(1);
    expect(value(after, 'graphql_errors_total', { code: 'TOO_MANY_REQUESTS' })).toBeGreaterThanOrEqual(1);
    // The label is the limit's name, never the user id in its key: the known names only.
    const limits = after.filter((s) => s.name === 'rate_limited_total').map((s) => s.labels.limit!);
    expect(limits.filter((limit) => !RATE_LIMITS.includes(limit))).toEqual([]);
  });

  it('reports MongoDB pool use from the driver: checkouts and their wait time', async () => {
    const waits = async () => value(await scrape(metricsUrl), 'mongodb_pool_checkout_wait_seconds_count');
    const before = await waits();
    await Promise.all([1, 2, 3].map(() => signUp(t)));
    // Each registration reads and writes the database: every command checks a connection out.
    expect((await waits()) - before).toBeGreaterThanOrEqual(6);
    const samples = await scrape(metricsUrl);
    expect(value(samples, 'mongodb_pool_checkout_wait_seconds_bucket', { le: '+Inf' })).toBe(
      value(samples, 'mongodb_pool_checkout_wait_seconds_count'),
    );
    // Every checked-out connection comes back (background work, the mail worker's polls and this
    // very scrape's backlog count, may hold one for a moment).
    await eventually(async () => value(await scrape(metricsUrl), 'mongodb_pool_checked_out_connections') === 0);
  });

  it('reports open WebSocket connections, and the count falls when one closes', async () => {
    const user = await signUp(t);
    const gauge = async () => value(await scrape(metricsUrl), 'websocket_connections');
    expect(await gauge()).toBe(0);
    const ws = await connectWs(t.url, `Bearer ${user.accessToken}`);
    expect(await gauge()).toBe(1);
    ws.close();
    await ws.closed;
    await eventually(async () => (await gauge()) === 0);
  });

  it('reports the mail outbox backlog', async () => {
    const samples = await scrape(metricsUrl);
    const backlog = samples.find((s) => s.name === 'mail_outbox_backlog');
    expect(backlog).toBeDefined();
    expect(backlog!.value).toBeGreaterThanOrEqual(0);
  });
});

describe('METRICS_PORT', () => {
  it('listens on METRICS_PORT at METRICS_HOST', async () => {
    const free = net.createServer();
    await new Promise<void>((r) => free.listen(0, '127.0.0.1', r));
    const port = (free.address() as net.AddressInfo).port;
    await new Promise((r) => free.close(r));

    const t = await startTestServer({ METRICS_PORT: String(port), METRICS_HOST: '127.0.0.1' });
    try {
      expect(t.server.metricsUrl).toBe(`http://127.0.0.1:${port}/metrics`);
      expect((await fetch(`http://127.0.0.1:${port}/metrics`)).status).toBe(200);
    } finally {
      await t.stop();
    }
    // stop() closed the listener.
    await expect(fetch(`http://127.0.0.1:${port}/metrics`)).rejects.toThrow();
  });

  it('0 starts no listener', async () => {
    const listens = await listensDuring(async () => {
      const server = await createServer(testConfig({ METRICS_PORT: '0' }), { mail: TEST_MAIL_WORKER });
      expect(server.metricsUrl).toBeUndefined();
      await mongoose.connection.dropDatabase();
      await server.stop();
    });
    // createServer does not listen on the public port itself: a listen would be metrics'.
    expect(listens).toBe(0);
  });

  it('another port starts one listener in createServer, which stop() closes', async () => {
    let url: string | undefined;
    const listens = await listensDuring(async () => {
      const server = await createServer(testConfig(), { mail: TEST_MAIL_WORKER, metricsPort: 0 });
      url = server.metricsUrl;
      expect((await fetch(url!)).status).toBe(200);
      await mongoose.connection.dropDatabase();
      await server.stop();
    });
    expect(listens).toBe(1);
    await expect(fetch(url!)).rejects.toThrow();
  });
});
