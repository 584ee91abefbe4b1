import { createHash } from 'node:crypto';
import { TRUSTED_DOCUMENTS_FILE } from '../../src/core/paths';
import { documentChecks } from '../../src/http/document-checks';
import { loadTrustedDocuments } from '../../src/http/trusted-documents';

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');
const limits = { maxTokens: 1000 } as Parameters<typeof documentChecks>[0]['limits'];
const checks = (trustedDocuments: 'off' | 'allow' | 'only') =>
  documentChecks({ trustedDocuments, limits }, TRUSTED_DOCUMENTS_FILE);
const codeOf = (checked: ReturnType<ReturnType<typeof documentChecks>>) =>
  'refused' in checked ? checked.refused.code : 'passed';
/** A document of the committed manifest (all are within the default token limit). */
const [manifestId, manifestText] = [...loadTrustedDocuments(TRUSTED_DOCUMENTS_FILE)][0]!;
const manifestHash = manifestId.slice('sha256:'.length);
const byHash = (hash: string) => ({ persistedQuery: { version: 1, sha256Hash: hash } });
const long = `{ ${'me { id } '.repeat(300)} }`;

describe('documentChecks (one set of checks for HTTP and WebSocket)', () => {
  it('refuses a document over the token limit, with each transport’s code', () => {
    const check = checks('off');
    expect(codeOf(check({ query: long }, 'http'))).toBe('GRAPHQL_VALIDATION_FAILED');
    expect(codeOf(check({ query: long }, 'websocket'))).toBe('GRAPHQL_PARSE_FAILED');
    expect(check({ query: '{ me { id } }' }, 'http')).toEqual({ query: '{ me { id } }', fromManifest: false });
  });

  it('refuses a persisted-query hash that does not match the text over HTTP only', () => {
    const check = checks('off');
    const fields = { query: '{ me { id } }', extensions: byHash(sha256('{ other }')) };
    expect(codeOf(check(fields, 'http'))).toBe('PERSISTED_QUERY_HASH_MISMATCH');
    // No persisted-query store behind WebSocket: the hash names nothing there.
    expect(codeOf(check(fields, 'websocket'))).toBe('passed');
    expect(codeOf(check({ query: '{ me { id } }', extensions: byHash(sha256('{ me { id } }')) }, 'http'))).toBe(
      'passed',
    );
  });

  it('leaves a hash without text to Apollo over HTTP, and wants text over WebSocket', () => {
    const check = checks('off');
    expect(check({ extensions: byHash(sha256('{ me { id } }')) }, 'http')).toEqual({
      query: undefined,
      fromManifest: false,
    });
    expect(codeOf(check({ extensions: byHash(sha256('{ me { id } }')) }, 'websocket'))).toBe('BAD_REQUEST');
  });

  it('runs the manifest’s text for a known hash; over WebSocket even beside other text', () => {
    const check = checks('allow');
    expect(check({ extensions: byHash(manifestHash) }, 'http')).toEqual({ query: manifestText, fromManifest: true });
    expect(codeOf(check({ query: '{ me { id } }', extensions: byHash(manifestHash) }, 'http'))).toBe(
      'PERSISTED_QUERY_HASH_MISMATCH',
    );
    expect(check({ query: '{ me { id } }', extensions: byHash(manifestHash) }, 'websocket')).toEqual({
      query: manifestText,
      fromManifest: true,
    });
  });

  it('in `only` mode refuses text that names no trusted document, on both transports', () => {
    const check = checks('only');
    for (const transport of ['http', 'websocket'] as const)
      expect(codeOf(check({ query: '{ me { id } }' }, transport))).toBe('TRUSTED_DOCUMENT_REQUIRED');
    expect(codeOf(check({ documentId: manifestId }, 'websocket'))).toBe('passed');
  });
});
