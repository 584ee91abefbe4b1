import { createHash } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadTrustedDocuments } from '../../../src/http/trusted-documents';
import { codes, type GraphQLResponse } from '../../helpers/graphql';
import { startTestServer, type TestServer } from '../../helpers/server';
import { hashOf, MANIFEST } from '../../helpers/trusted-documents';

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');
const persisted = (hash: string) => ({ persistedQuery: { version: 1, sha256Hash: hash } });
const AD_HOC = '{ me { id } }';

function post(t: TestServer, body: unknown): Promise<GraphQLResponse> {
  return fetch(`${t.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  }).then(async (res) => ({
    status: res.status,
    headers: res.headers,
    body: (await res.json()) as GraphQLResponse['body'],
  }));
}

function get(t: TestServer, params: Record<string, string>): Promise<GraphQLResponse> {
  return fetch(`${t.url}/graphql?${new URLSearchParams(params)}`, {
    headers: { 'apollo-require-preflight': 'true' },
  }).then(async (res) => ({
    status: res.status,
    headers: res.headers,
    body: (await res.json()) as GraphQLResponse['body'],
  }));
}

/** The committed manifest's `Me` query answers `me: null` to an anonymous caller. */
const ME_ANONYMOUS = { data: { __typename: 'Query', me: null } };

describe('the persisted-documents manifest', () => {
  it('holds every operation of schema/operations under the SHA-256 of its text', () => {
    expect(() =>
      loadTrustedDocuments(path.resolve(__dirname, '../../../schema/generated/persisted-documents.json')),
    ).not.toThrow();
    for (const name of ['Me', 'Login', 'Register', 'RefreshToken', 'Items', 'CreateItem', 'UpdateItem', 'DeleteItem'])
      expect(MANIFEST[`sha256:${hashOf(name)}`]).toContain(name);
  });

  it('refuses to load a manifest whose hash is not the SHA-256 of its document', () => {
    const file = path.join(mkdtempSync(path.join(os.tmpdir(), 'manifest-')), 'persisted-documents.json');
    writeFileSync(file, JSON.stringify({ [`sha256:${sha256('{ me { id } }')}`]: '{ me { email } }' }));
    expect(() => loadTrustedDocuments(file)).toThrow(/is not the sha256 of its document/);
  });
});

describe('TRUSTED_DOCUMENTS=only', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer({ TRUSTED_DOCUMENTS: 'only' });
  });
  afterAll(() => t.stop());

  it("runs a manifest document named by Apollo's persistedQuery hash, over POST and GET, at the first request", async () => {
    expect(await post(t, { extensions: persisted(hashOf('Me')) })).toMatchObject({ status: 200, body: ME_ANONYMOUS });
    const byGet = await get(t, { extensions: JSON.stringify(persisted(hashOf('Me'))) });
    expect(byGet).toMatchObject({ status: 200, body: ME_ANONYMOUS });
  });

  it('runs a manifest document named by documentId, with or without the sha256: prefix', async () => {
    expect((await post(t, { documentId: `sha256:${hashOf('Me')}` })).body).toEqual(ME_ANONYMOUS);
    expect((await post(t, { documentId: hashOf('Me') })).body).toEqual(ME_ANONYMOUS);
    expect((await get(t, { documentId: `sha256:${hashOf('Me')}` })).body).toEqual(ME_ANONYMOUS);
  });

  it('accepts the manifest text sent along with its hash', async () => {
    const text = MANIFEST[`sha256:${hashOf('Me')}`]!;
    expect((await post(t, { query: text, extensions: persisted(hashOf('Me')) })).body).toEqual(ME_ANONYMOUS);
  });

  it('refuses ad-hoc documents with 400 TRUSTED_DOCUMENT_REQUIRED: plain, registered by APQ, by unknown hash or id', async () => {
    const refusals = await Promise.all([
      post(t, { query: AD_HOC }),
      post(t, { query: AD_HOC, extensions: persisted(sha256(AD_HOC)) }),
      post(t, { extensions: persisted(sha256(AD_HOC)) }),
      post(t, { documentId: `sha256:${sha256(AD_HOC)}` }),
      post(t, { query: '{ __schema { types { name } } }' }),
      get(t, { query: AD_HOC }),
    ]);
    for (const res of refusals) {
      expect(res.status).toBe(400);
      expect(codes(res)).toEqual(['TRUSTED_DOCUMENT_REQUIRED']);
      expect(res.body.data).toBeUndefined();
    }
    // The APQ registration above stored nothing: the hash alone is still refused.
    expect(codes(await post(t, { extensions: persisted(sha256(AD_HOC)) }))).toEqual(['TRUSTED_DOCUMENT_REQUIRED']);
  });

  it('refuses other text sent under a known hash or documentId', async () => {
    for (const body of [
      { query: AD_HOC, extensions: persisted(hashOf('Me')) },
      { query: AD_HOC, documentId: `sha256:${hashOf('Me')}` },
    ]) {
      const res = await post(t, body);
      expect(res.status).toBe(400);
      expect(codes(res)).toEqual(['PERSISTED_QUERY_HASH_MISMATCH']);
    }
  });
});

describe('TRUSTED_DOCUMENTS=allow', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer({ TRUSTED_DOCUMENTS: 'allow' });
  });
  afterAll(() => t.stop());

  it('answers a manifest hash at once, without the PERSISTED_QUERY_NOT_FOUND round trip', async () => {
    expect(await post(t, { extensions: persisted(hashOf('Me')) })).toMatchObject({ status: 200, body: ME_ANONYMOUS });
    expect((await post(t, { documentId: `sha256:${hashOf('Me')}` })).body).toEqual(ME_ANONYMOUS);
  });

  it('still runs ad-hoc documents and registers them by APQ', async () => {
    expect((await post(t, { query: AD_HOC })).body).toEqual({ data: { me: null } });
    const hash = sha256('{ me { email } }');
    expect(codes(await post(t, { extensions: persisted(hash) }))).toEqual(['PERSISTED_QUERY_NOT_FOUND']);
    expect((await post(t, { query: '{ me { email } }', extensions: persisted(hash) })).body).toEqual({
      data: { me: null },
    });
    expect((await post(t, { extensions: persisted(hash) })).body).toEqual({ data: { me: null } });
  });

  it('answers an unknown documentId with 400 PERSISTED_QUERY_NOT_FOUND', async () => {
    const res = await post(t, { documentId: `sha256:${sha256(AD_HOC)}` });
    expect(res.status).toBe(400);
    expect(codes(res)).toEqual(['PERSISTED_QUERY_NOT_FOUND']);
  });
});

describe('TRUSTED_DOCUMENTS=off (the default)', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer();
  });
  afterAll(() => t.stop());

  it('does not read the manifest: a manifest hash must be registered like any other', async () => {
    expect(codes(await post(t, { extensions: persisted(hashOf('Me')) }))).toEqual(['PERSISTED_QUERY_NOT_FOUND']);
    expect((await post(t, { query: AD_HOC })).body).toEqual({ data: { me: null } });
  });
});
