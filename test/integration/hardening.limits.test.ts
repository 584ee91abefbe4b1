import { serverAudits } from 'graphql-http';
import { bearer, signUp } from '../helpers/auth';
import { codes } from '../helpers/graphql';
import { startTestServer, type TestServer } from '../helpers/server';

let t: TestServer;
let token: string;
beforeAll(async () => {
  t = await startTestServer({ CORS_ORIGINS: 'https://app.example' });
  token = (await signUp(t)).accessToken;
});
afterAll(() => t.stop());

const post = (body: string, headers: Record<string, string> = { 'content-type': 'application/json' }) =>
  fetch(`${t.url}/graphql`, { method: 'POST', headers, body });

/** `{ a: me { id } b: me { id } … }` with n aliases. */
const aliases = (n: number) => `{ ${Array.from({ length: n }, (_, i) => `a${i}: me { id }`).join(' ')} }`;
/** A query nested `depth` levels deep through the type system (introspection is on in tests). */
const deep = (depth: number) => {
  let inner = 'name';
  for (let i = 1; i < depth; i++) inner = `ofType { ${inner} }`;
  return `{ __type(name: "Item") { ${inner.replace(/^ofType/, 'name ofType')} } }`;
};

describe('GraphQL-level limits (graphql-armor)', () => {
  it.each<[string, string]>([
    ['depth over 10', deep(13)],
    ['more than 15 aliases', aliases(16)],
    ['more than 50 directives', `{ me @include(if: true) { ${'id @skip(if: false) '.repeat(51)} } }`],
    ['more than 1000 tokens', `{ ${'me { id } '.repeat(260)} }`],
    [
      'a cost over 5000',
      `{ ${Array.from({ length: 15 }, (_, i) => `a${i}: items(first: 100) { edges { node { id owner { id } } } }`).join(' ')} }`,
    ],
  ])('refuses %s with HTTP 400 and GRAPHQL_VALIDATION_FAILED, never 500', async (_label, query) => {
    const res = await t.gql(query, {}, bearer(token));
    expect(res.status).toBe(400);
    expect(codes(res)[0]).toBe('GRAPHQL_VALIDATION_FAILED');
  });

  it('accepts operations just inside the limits', async () => {
    for (const query of [aliases(15), deep(8)]) {
      const res = await t.gql(query, {}, bearer(token));
      expect(res.status).toBe(200);
      expect(res.body.errors).toBeUndefined();
    }
  });

  it('masks field suggestions', async () => {
    const res = await t.gql('{ mee { id } }');
    expect(res.status).toBe(400);
    // Stack traces (development only) keep graphql-js's original text; production has none.
    expect(res.body.errors![0]!.message).not.toMatch(/Did you mean/i);
  });
});

describe('HTTP protocol rules', () => {
  it('refuses a batched (array) body with 400', async () => {
    const res = await post(JSON.stringify([{ query: '{ me { id } }' }, { query: '{ me { id } }' }]));
    expect(res.status).toBe(400);
  });

  it.each([
    ['text/plain', { 'content-type': 'text/plain' }],
    ['application/x-www-form-urlencoded', { 'content-type': 'application/x-www-form-urlencoded' }],
    ['no content type', {} as Record<string, string>],
  ])('refuses a simple POST with %s (CSRF prevention) with 400', async (_label, headers) => {
    const res = await post('{"query":"{ me { id } }"}', headers);
    expect(res.status).toBe(400);
  });

  it('refuses a GET without a preflight header (CSRF), and serves one with it', async () => {
    const url = `${t.url}/graphql?query=${encodeURIComponent('{ me { id } }')}`;
    expect((await fetch(url)).status).toBe(400);
    const ok = await fetch(url, { headers: { 'apollo-require-preflight': 'true' } });
    expect(ok.status).toBe(200);
  });

  it('answers a mutation over GET with 405 and Allow: POST', async () => {
    const url = `${t.url}/graphql?query=${encodeURIComponent('mutation { logoutAll }')}`;
    const res = await fetch(url, { headers: { 'apollo-require-preflight': 'true' } });
    expect(res.status).toBe(405);
    expect(res.headers.get('allow')).toBe('POST');
  });

  it('answers a body over BODY_LIMIT (100 kB by default) with 413 JSON', async () => {
    const res = await post(JSON.stringify({ query: `{ me { id } } # ${'x'.repeat(150_000)}` }));
    expect(res.status).toBe(413);
    expect(res.headers.get('content-type')).toMatch(/application\/json/);
    expect(((await res.json()) as { error: string }).error).toBe('payload_too_large');
  });

  it('sets helmet security headers and no X-Powered-By', async () => {
    const res = await t.gql('{ me { id } }');
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('content-security-policy')).toContain("default-src 'self'");
    expect(res.headers.get('strict-transport-security')).toMatch(/max-age=/);
    expect(res.headers.get('x-frame-options')).toBe('SAMEORIGIN');
    expect(res.headers.get('x-powered-by')).toBeNull();
  });

  it('allows CORS with credentials only for the listed origins', async () => {
    const preflight = (origin: string) =>
      fetch(`${t.url}/graphql`, {
        method: 'OPTIONS',
        headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' },
      });
    const listed = await preflight('https://app.example');
    expect(listed.headers.get('access-control-allow-origin')).toBe('https://app.example');
    expect(listed.headers.get('access-control-allow-credentials')).toBe('true');
    const other = await preflight('https://evil.example');
    expect(other.headers.get('access-control-allow-origin')).toBeNull();
    const simple = await t.gql('{ me { id } }', {}, { origin: 'https://evil.example' });
    expect(simple.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('sets header, request and keep-alive timeouts on the HTTP server', () => {
    const server = t.server.httpServer;
    expect(server.headersTimeout).toBe(t.config.http.headersTimeoutMs);
    expect(server.requestTimeout).toBe(t.config.http.requestTimeoutMs);
    expect(server.keepAliveTimeout).toBe(t.config.http.keepAliveTimeoutMs);
    expect(server.headersTimeout).toBeGreaterThan(0);
  });
});

describe('bad input and injection', () => {
  it('refuses an operator object where a string is expected with BAD_USER_INPUT', async () => {
    const res = await t.gql('mutation($input: LoginInput!) { login(input: $input) { accessToken } }', {
      input: { email: { $ne: null }, password: 'x' },
    });
    expect(res.status).toBe(400);
    expect(codes(res)).toEqual(['BAD_USER_INPUT']);
  });

  it('refuses unknown input fields, and oversized strings and lists, with BAD_USER_INPUT', async () => {
    const create = 'mutation($input: CreateItemInput!) { createItem(input: $input) { id } }';
    const cases = [
      { name: 'x', owner: 'someone-else' },
      { name: 'x', $where: '1' },
      { name: 'n'.repeat(10_000) },
      { name: 'x', tags: Array.from({ length: 500 }, (_, i) => `t${i}`) },
    ];
    for (const input of cases) {
      const res = await t.gql(create, { input }, bearer(token));
      expect(res.status).toBeLessThan(500);
      expect(codes(res)).toEqual(['BAD_USER_INPUT']);
    }
  });
});

describe('GraphQL over HTTP compliance (graphql-http server audits)', () => {
  // Apollo Server answers 400, not 200, for these failures under legacy `application/json`;
  // the armor limits rely on 400 as well. Recommendations, not requirements.
  const knownWarnings: Record<string, string> = {
    '572B': 'SHOULD use 200 on document parsing failure with application/json: Apollo answers 400',
    FDE2: 'SHOULD use 200 on document validation failure with application/json: Apollo answers 400',
    '7B9B': 'SHOULD use 200 on variable coercion failure with application/json: Apollo answers 400',
    // CSRF prevention: a GET needs a preflight-forcing header, which the audits do not send.
    '5A70': 'MAY accept GET requests: refused without apollo-require-preflight (CSRF prevention)',
    D6D5: 'MAY allow {variables} in GETs: refused without apollo-require-preflight (CSRF prevention)',
    '6A70': 'MAY allow {variables} in GETs: refused without apollo-require-preflight (CSRF prevention)',
  };
  const audits = serverAudits({ url: () => `${t.url}/graphql` });

  it.each(audits.map((a) => [a.id, a.name, a] as const))('%s %s', async (id, name, audit) => {
    const result = await audit.fn();
    if (name.startsWith('MUST')) expect(result.status).toBe('ok');
    else expect(result.status === 'ok' ? 'ok' : knownWarnings[id]).toBe(knownWarnings[id] ?? 'ok');
  });
});
