import { readFileSync } from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { buildSchema } from 'graphql';
import { fuzzRequests, type FuzzRequest } from '../../helpers/fuzz';
import { startTestServer, type TestServer } from '../../helpers/server';

// `npm test` runs a short, repeatable pass; `npm run fuzz` sets FUZZ_RUNS (and a fresh seed).
const RUNS = Number(process.env.FUZZ_RUNS ?? 300);
const SEED = process.env.FUZZ_SEED === 'random' ? Date.now() % 2 ** 31 : Number(process.env.FUZZ_SEED ?? 20261124);

describe('schema-derived fuzzing over HTTP', () => {
  let api: TestServer;
  let token = '';
  const email = 'fuzzer@example.com';
  const password = 'Fuzzing-Horse-Battery-8';
  const seen = { total: 0, ok: 0, clientErrors: 0 };

  async function signIn(): Promise<void> {
    const res = await api.gql('mutation($i: LoginInput!) { login(input: $i) { accessToken } }', {
      i: { email, password },
    });
    token = res.body.data?.login?.accessToken ?? token;
  }

  beforeAll(async () => {
    api = await startTestServer({ LOGIN_MAX_ATTEMPTS: '1000' });
    await api.gql('mutation($i: RegisterInput!) { register(input: $i) { accessToken } }', { i: { email, password } });
    await signIn();
    // Something to read and update.
    for (let i = 0; i < 5; i++) {
      await api.gql(`mutation { createItem(input: { name: "seed ${i}", tags: ["fuzz"] }) { id } }`, undefined, {
        authorization: `Bearer ${token}`,
      });
    }
  });
  afterAll(() => api.stop());

  async function send(req: FuzzRequest): Promise<void> {
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (req.signedIn) headers.authorization = `Bearer ${token}`;
    const res = await fetch(`${api.url}/graphql`, {
      method: 'POST',
      headers,
      body: req.raw !== undefined ? req.raw : JSON.stringify(req.body),
    });
    const text = await res.text();
    seen.total++;
    if (res.status >= 500)
      throw new Error(`HTTP ${res.status} for ${JSON.stringify(req).slice(0, 500)}: ${text.slice(0, 300)}`);
    expect(res.headers.get('content-type')).toMatch(/application\/(graphql-response\+)?json/);
    const body = JSON.parse(text) as {
      data?: unknown;
      errors?: Array<{ message: unknown; extensions?: { code?: string } }>;
      error?: string;
    };
    // GraphQL-over-HTTP responses carry data and/or errors; HTTP-level refusals carry our JSON error.
    const isGraphQL = 'data' in body || Array.isArray(body.errors);
    expect(isGraphQL || typeof body.error === 'string').toBe(true);
    for (const err of body.errors ?? []) {
      expect(typeof err.message).toBe('string');
      if (err.extensions?.code === 'INTERNAL_SERVER_ERROR') {
        throw new Error(`INTERNAL_SERVER_ERROR for ${JSON.stringify(req).slice(0, 500)}: ${String(err.message)}`);
      }
    }
    if (res.status === 200 && !body.errors) seen.ok++;
    else seen.clientErrors++;
    // The fuzzer may log itself out (logoutAll, changePassword): sign in again.
    if (res.status === 401 && req.signedIn) await signIn();
  }

  it(`answers ${RUNS} generated valid and invalid operations without a 5xx or INTERNAL_SERVER_ERROR`, async () => {
    const schema = buildSchema(readFileSync(path.resolve(__dirname, '../../../schema/schema.graphql'), 'utf8'));
    await fc.assert(fc.asyncProperty(fuzzRequests(schema), send), { numRuns: RUNS, seed: SEED, endOnFailure: true });
    expect(seen.total).toBeGreaterThanOrEqual(RUNS);
    // Both kinds were exercised: some operations succeeded and some were refused.
    expect(seen.ok).toBeGreaterThan(RUNS / 20);
    expect(seen.clientErrors).toBeGreaterThan(RUNS / 20);
  }, 600_000);
});
