import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { withDatabaseName } from '../../../src/infra/db';
import { bearer, signUp } from '../../helpers/auth';
import { buildBundles } from '../../helpers/bundles';
import { graphqlClient } from '../../helpers/graphql';
import { startInstance, stopAllInstances, type Instance, type LogLine } from '../../helpers/instance';
import { startOtlpReceiver, type OtlpReceiver, type ReceivedSpan } from '../../helpers/otlp';
import { testDatabaseName } from '../../helpers/server';

/**
 * OpenTelemetry traces, end to end: the service runs as its own process (instrumentations hook
 * `require`, which jest's module registry bypasses) and exports to a real OTLP/HTTP receiver.
 */

const ROOT = path.resolve(__dirname, '..', '..', '..');
const VERSION = (JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
const PRELOAD = ['./test/helpers/loaded-modules.ts'];
const ME = 'query Me { me { id email } }';
// The SDK's own batch delay (5 s by default) would make every wait here 5 s long.
const FAST_EXPORT = { OTEL_BSP_SCHEDULE_DELAY: '100' };

let receiver: OtlpReceiver;
let traced: Instance;
let off: Instance;
let plain: Instance;

const database = () => withDatabaseName(process.env.TEST_MONGODB_URI!, testDatabaseName());
const newTraceparent = () => {
  const traceId = randomBytes(16).toString('hex');
  const parentId = randomBytes(8).toString('hex');
  return { traceId, parentId, header: `00-${traceId}-${parentId}-01` };
};

/** The OpenTelemetry files the instance has required so far (see test/helpers/loaded-modules.ts). */
async function loadedOtelModules(instance: Instance): Promise<string[]> {
  const before = instance.lines.length;
  instance.child.kill('SIGUSR2');
  const line = await instance.waitForLine(
    (l) => l.msg === 'loaded modules' && instance.lines.indexOf(l) >= before,
    10_000,
    'loaded modules',
  );
  return line.modules as string[];
}

const SDK_MODULE = /\/node_modules\/@opentelemetry\/(sdk-[^/]+|exporter-[^/]+|instrumentation[^/]*)\//;

beforeAll(async () => {
  // One test opens an account page, which is served only once bundled.
  await buildBundles();
  receiver = await startOtlpReceiver();
  [traced, off, plain] = await Promise.all([
    startInstance(
      {
        MONGODB_URI: database(),
        LOG_LEVEL: 'debug',
        OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
        OTEL_TRACES_SAMPLER: 'parentbased_always_on',
        ...FAST_EXPORT,
      },
      { preload: PRELOAD },
    ),
    startInstance(
      {
        MONGODB_URI: database(),
        OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
        OTEL_SERVICE_NAME: 'tracing-off-probe',
        OTEL_TRACES_SAMPLER: 'always_off',
        ...FAST_EXPORT,
      },
      { preload: PRELOAD },
    ),
    startInstance({ MONGODB_URI: database() }, { preload: PRELOAD }),
  ]);
}, 180_000);

afterAll(async () => {
  await stopAllInstances();
  await receiver?.close();
});

describe('tracing with OTEL_EXPORTER_OTLP_ENDPOINT', () => {
  let trace: ReturnType<typeof newTraceparent>;
  let requestId: string;
  let spans: ReceivedSpan[];

  beforeAll(async () => {
    const client = graphqlClient(traced.url);
    const { accessToken } = await signUp(client);
    trace = newTraceparent();
    const res = await client.gql(ME, {}, { ...bearer(accessToken), traceparent: trace.header });
    expect(res.status).toBe(200);
    expect(res.body.data?.me?.id).toEqual(expect.any(String));
    requestId = res.headers.get('x-request-id')!;
    const inTrace = (all: ReceivedSpan[]) => all.filter((s) => s.traceId === trace.traceId);
    spans = inTrace(
      await receiver.waitFor((all) => {
        const mine = inTrace(all);
        return (
          mine.some((s) => s.scope === '@opentelemetry/instrumentation-http' && s.kind === 2) &&
          mine.some((s) => s.scope === '@opentelemetry/instrumentation-graphql') &&
          mine.some((s) => s.scope === '@opentelemetry/instrumentation-mongodb')
        );
      }),
    );
  }, 60_000);

  it('exports a server span for the HTTP request, child of the traceparent it came with', () => {
    const server = spans.filter((s) => s.scope === '@opentelemetry/instrumentation-http' && s.kind === 2);
    expect(server).toHaveLength(1);
    expect(server[0]).toMatchObject({ parentSpanId: trace.parentId, name: expect.stringMatching(/^POST\b/) });
    expect(server[0]!.resource).toMatchObject({ 'service.name': 'graphql-auth-items-api', 'service.version': VERSION });
  });

  it('exports the GraphQL operation and its MongoDB commands in the same trace, under the request span', () => {
    const operation = spans.find(
      (s) => s.scope === '@opentelemetry/instrumentation-graphql' && s.attributes['graphql.operation.name'] === 'Me',
    );
    expect(operation?.attributes['graphql.operation.type']).toBe('query');
    const mongo = spans.filter((s) => s.scope === '@opentelemetry/instrumentation-mongodb');
    expect(mongo.length).toBeGreaterThan(0);
    for (const s of mongo) expect(s.kind).toBe(3); // CLIENT
    // Authentication reads the user and the token's session on every request.
    expect(mongo.map((s) => s.name).join(' ')).toMatch(/\busers\b/);
    expect(mongo.map((s) => s.name).join(' ')).toMatch(/\bsessions\b/);

    // One tree: every span's parent is in the trace, except the request span's (the caller's).
    const ids = new Set(spans.map((s) => s.spanId));
    const roots = spans.filter((s) => !ids.has(s.parentSpanId ?? ''));
    expect(roots.map((s) => s.parentSpanId)).toEqual([trace.parentId]);
  });

  it("puts trace_id and span_id beside the request id on the request's log lines", async () => {
    await traced.waitForLine(
      (l) => l.msg === 'request completed' && reqId(l) === requestId,
      10_000,
      'request completed',
    );
    const lines = traced.lines.filter((l) => reqId(l) === requestId);
    expect(lines.length).toBeGreaterThan(0);
    const ids = new Set(spans.map((s) => s.spanId));
    for (const line of lines) {
      expect(line.trace_id).toBe(trace.traceId);
      expect(ids.has(String(line.span_id))).toBe(true);
    }
  });

  it('keeps link tokens and GraphQL GET variables out of the spans it exports', async () => {
    const secret = `link-secret-${Date.now()}`;
    const pageTrace = newTraceparent();
    const page = await fetch(`${traced.url}/account/reset-password?token=${secret}`, {
      headers: { traceparent: pageTrace.header },
    });
    expect(page.status).toBe(200);
    const getTrace = newTraceparent();
    const query = encodeURIComponent('query Probe($v: ID!) { item(id: $v) { id } }');
    const variables = encodeURIComponent(JSON.stringify({ v: secret }));
    await fetch(`${traced.url}/graphql?query=${query}&variables=${variables}`, {
      headers: { traceparent: getTrace.header, 'apollo-require-preflight': 'true' },
    });
    const serverSpan = (all: ReceivedSpan[], traceId: string) =>
      all.find((s) => s.traceId === traceId && s.scope === '@opentelemetry/instrumentation-http' && s.kind === 2);
    const all = await receiver.waitFor(
      (received) => !!serverSpan(received, pageTrace.traceId) && !!serverSpan(received, getTrace.traceId),
    );
    expect(String(serverSpan(all, pageTrace.traceId)!.attributes['url.query'])).toMatch(/^token=REDACTED$/);
    const exported = JSON.stringify(all.filter((s) => [pageTrace.traceId, getTrace.traceId].includes(s.traceId)));
    expect(exported).not.toContain(secret);
  });

  it('loads the SDK and the four instrumentations', async () => {
    const modules = (await loadedOtelModules(traced)).join('\n');
    for (const name of [
      'sdk-node',
      'instrumentation-http',
      'instrumentation-express',
      'instrumentation-graphql',
      'instrumentation-mongodb',
    ]) {
      expect(modules).toContain(`/@opentelemetry/${name}/`);
    }
  });

  it('exports nothing with OTEL_TRACES_SAMPLER=always_off, even for a sampled traceparent', async () => {
    expect(await loadedOtelModules(off)).toEqual(expect.arrayContaining([expect.stringMatching(/sdk-node/)]));
    const client = graphqlClient(off.url);
    const { accessToken } = await signUp(client);
    const res = await client.gql(ME, {}, { ...bearer(accessToken), traceparent: newTraceparent().header });
    expect(res.status).toBe(200);
    // SIGTERM flushes whatever the SDK still holds, so after exit nothing more can arrive.
    expect((await off.stop()).code).toBe(0);
    expect(receiver.spans.filter((s) => s.service === 'tracing-off-probe')).toEqual([]);
    expect(receiver.refused).toEqual([]);
  });
});

describe('without OTEL_EXPORTER_OTLP_ENDPOINT', () => {
  it('loads no OpenTelemetry SDK, exporter or instrumentation module, even after serving a request', async () => {
    const client = graphqlClient(plain.url);
    const { accessToken } = await signUp(client);
    const res = await client.gql(ME, {}, { ...bearer(accessToken), traceparent: newTraceparent().header });
    expect(res.status).toBe(200);
    const modules = await loadedOtelModules(plain);
    expect(modules.filter((file) => SDK_MODULE.test(file))).toEqual([]);
    expect(plain.lines.some((l) => 'trace_id' in l)).toBe(false);
  });
});

function reqId(line: LogLine): string | undefined {
  return (line.req as { id?: string } | undefined)?.id;
}
