import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Config } from '../core/config';

/** `sha256:<hex>` → document text, as the client preset writes persisted-documents.json. */
export type TrustedDocuments = ReadonlyMap<string, string>;

/**
 * Reads the manifest once. Every key must be the SHA-256 of its document: Apollo checks a hash
 * sent with a query against the text, so a manifest written with another algorithm would refuse
 * every request; better to fail at start-up.
 */
export function loadTrustedDocuments(file: string): TrustedDocuments {
  const manifest = JSON.parse(readFileSync(file, 'utf8')) as unknown;
  if (!manifest || typeof manifest !== 'object' || Array.isArray(manifest))
    throw new Error(`${file}: not a persisted-documents manifest (run \`npm run codegen\`)`);
  const documents = new Map<string, string>();
  for (const [id, text] of Object.entries(manifest)) {
    if (typeof text !== 'string' || id !== `sha256:${createHash('sha256').update(text).digest('hex')}`)
      throw new Error(`${file}: ${id} is not the sha256 of its document (codegen.yml: hashAlgorithm sha256)`);
    documents.set(id, text);
  }
  return documents;
}

/** The fields of a GraphQL request that name or carry its document, as either transport receives them. */
export type Fields = { query?: unknown; extensions?: unknown; documentId?: unknown };

/** Apollo's automatic persisted-query hash: `extensions.persistedQuery.sha256Hash`. */
export function persistedQueryHash(extensions: unknown): string | undefined {
  const hash = (extensions as { persistedQuery?: { sha256Hash?: unknown } } | null | undefined)?.persistedQuery
    ?.sha256Hash;
  return typeof hash === 'string' ? hash : undefined;
}

/** The document a request names: `documentId` (`sha256:<hex>` or bare hex) or Apollo's persistedQuery hash. */
function namedId({ documentId, extensions }: Fields): string | undefined {
  if (typeof documentId === 'string') return documentId.startsWith('sha256:') ? documentId : `sha256:${documentId}`;
  const hash = persistedQueryHash(extensions);
  return hash === undefined ? undefined : `sha256:${hash}`;
}

/** What to run for a request's fields, or why it is refused. */
export type DocumentVerdict =
  { query: unknown; fromManifest: boolean } | { refused: { code: string; message: string } };

/**
 * `manifestWins`: a document named by a manifest hash runs the manifest's text even when other
 * text comes with it. For WebSocket subscriptions: Apollo's GraphQLWsLink always sends its own
 * printing of the document beside the hash (over HTTP the persisted-query link drops it), and that
 * printing never matches the manifest's byte for byte. The hash decides what runs.
 */
export type DocumentPolicy = (fields: Fields, options?: { manifestWins?: boolean }) => DocumentVerdict;

/**
 * TRUSTED_DOCUMENTS, for HTTP requests and WebSocket subscriptions alike:
 * - `allow`: a document of the manifest, named by Apollo's `extensions.persistedQuery.sha256Hash`
 *   or by `documentId`, runs without the registration round trip; anything else works as before.
 * - `only`: nothing else runs. A request that names no known document is refused with
 *   TRUSTED_DOCUMENT_REQUIRED, before parsing, so ad-hoc text never reaches the executor.
 * - `off`: the manifest is not read; automatic persisted queries work as before.
 */
export function documentPolicy(config: Pick<Config, 'trustedDocuments'>, file: string): DocumentPolicy {
  const mode = config.trustedDocuments;
  if (mode === 'off') return (fields) => ({ query: fields.query, fromManifest: false });
  const documents = loadTrustedDocuments(file);
  return (fields, options = {}) => {
    const id = namedId(fields);
    const text = id === undefined ? undefined : documents.get(id);
    if (text === undefined) {
      if (mode === 'only')
        return {
          refused: {
            code: 'TRUSTED_DOCUMENT_REQUIRED',
            message: 'This server runs only its trusted documents, named by hash',
          },
        };
      // Apollo does not know `documentId`; an unknown one is the client's to fix, like an unknown hash.
      if (typeof fields.documentId === 'string')
        return { refused: { code: 'PERSISTED_QUERY_NOT_FOUND', message: 'No trusted document has this documentId' } };
      return { query: fields.query, fromManifest: false };
    }
    if (!options.manifestWins && fields.query !== undefined && fields.query !== '' && fields.query !== text)
      return {
        refused: { code: 'PERSISTED_QUERY_HASH_MISMATCH', message: 'The query is not the trusted document it names' },
      };
    return { query: text, fromManifest: true };
  };
}
