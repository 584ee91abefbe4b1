import { createHash } from 'node:crypto';
import { MaxTokensParserWLexer } from '@escape.tech/graphql-armor-max-tokens';
import { LRUCache } from 'lru-cache';
import type { Request, RequestHandler } from 'express';
import type { Config } from '../core/config';
import { documentPolicy, persistedQueryHash, type Fields } from './trusted-documents';

export type Transport = 'http' | 'websocket';

export interface DocumentRefusal {
  code: string;
  message: string;
}

/**
 * The text to run, or why the request is refused. `query` is undefined when the request carries
 * no text to check (an automatic persisted query sent by hash alone: Apollo looks it up).
 */
export type CheckedDocument = { query: string | undefined; fromManifest: boolean } | { refused: DocumentRefusal };

/**
 * The checks a document passes before it is parsed for execution, over HTTP and WebSocket alike,
 * in this order: trusted documents, the token limit, the persisted-query hash.
 */
export type DocumentChecks = (fields: Fields, transport: Transport) => CheckedDocument;

/** Where the transports differ: only HTTP has Apollo's automatic persisted-query store behind it. */
const TRANSPORT_RULES: Record<
  Transport,
  { manifestWins: boolean; queryRequired: boolean; hashMustMatch: boolean; tokenLimitCode: string }
> = {
  // A hash alone is looked up in Apollo's store; a hash beside text registers that text under it.
  http: { manifestWins: false, queryRequired: false, hashMustMatch: true, tokenLimitCode: 'GRAPHQL_VALIDATION_FAILED' },
  // No store: a hash only names a trusted document, and the text a graphql-ws link sends beside
  // it is its own printing (see DocumentPolicy). A document over the limit has always been
  // refused here as the parse failure it was found by.
  websocket: { manifestWins: true, queryRequired: true, hashMustMatch: false, tokenLimitCode: 'GRAPHQL_PARSE_FAILED' },
};

/** Total length of the documents the token limit remembers as within it. */
const TOKEN_CHECKED_CHARS = 2_000_000;

/**
 * graphql-armor's token limit, applied before Apollo: inside Apollo 5 a failure in the parsing
 * hook becomes a 500, while a document over the limit is the client's fault. Returns the
 * refusal's message, or undefined when within the limit.
 */
function tokenLimit(maxTokens: number): (source: string) => string | undefined {
  // Documents already counted within the limit: a client sends the same few again and again, and
  // lexing each on every request was a measurable share of a small operation's cost. Bounded by
  // total length, so large documents cannot grow memory.
  const within = new LRUCache<string, true>({
    maxSize: TOKEN_CHECKED_CHARS,
    sizeCalculation: (_v, k) => k.length || 1,
  });
  return (source) => {
    if (within.get(source)) return undefined;
    let exceeded: Error | undefined;
    try {
      const onReject = [(_ctx: unknown, err: Error) => void (exceeded = err)];
      new MaxTokensParserWLexer(source, { n: maxTokens, onReject }).parseDocument();
    } catch {
      // Other syntax errors are left to the parser that runs the document (GRAPHQL_PARSE_FAILED).
    }
    if (exceeded) return exceeded.message;
    if (source.length <= TOKEN_CHECKED_CHARS / 100) within.set(source, true);
    return undefined;
  };
}

/**
 * Automatic persisted queries: a request carrying both a query and its SHA-256 registers it
 * under that hash. Apollo refuses a hash that does not match the query (so nobody can store a
 * different query under a known hash) but without a code, which clients then see as
 * INTERNAL_SERVER_ERROR; this check answers first with a code a client can act on.
 */
function hashMismatch(query: string, extensions: unknown): boolean {
  const hash = persistedQueryHash(extensions);
  return hash !== undefined && hash !== createHash('sha256').update(query).digest('hex');
}

const refused = (code: string, message: string): CheckedDocument => ({ refused: { code, message } });

/**
 * The document checks of this configuration. Reads the trusted-documents manifest once, now, so
 * a missing or wrong manifest stops the start.
 */
export function documentChecks(config: Pick<Config, 'trustedDocuments' | 'limits'>, file: string): DocumentChecks {
  const policy = documentPolicy(config, file);
  const overTokens = tokenLimit(config.limits.maxTokens);
  return (fields, transport) => {
    const rules = TRANSPORT_RULES[transport];
    const verdict = policy(fields, { manifestWins: rules.manifestWins });
    if ('refused' in verdict) return verdict;
    const { query, fromManifest } = verdict;
    if (rules.queryRequired && (typeof query !== 'string' || query === ''))
      return refused('BAD_REQUEST', 'The subscribe message needs a query');
    // Anything else is Apollo's to report (or to look up, for a hash alone).
    if (typeof query !== 'string') return { query: undefined, fromManifest: false };
    const tooLong = overTokens(query);
    if (tooLong !== undefined) return refused(rules.tokenLimitCode, tooLong);
    if (rules.hashMustMatch && hashMismatch(query, fields.extensions))
      return refused('PERSISTED_QUERY_HASH_MISMATCH', 'The persisted query hash does not match the query');
    return { query, fromManifest };
  };
}

/** The request's fields, from the JSON body (POST) or the URL (GET, `extensions` as JSON). */
function fieldsOf(req: Request): Fields {
  if (req.method !== 'GET') return (req.body as Fields | undefined) ?? {};
  const { query, extensions, documentId } = req.query as Record<string, unknown>;
  try {
    return { query, documentId, extensions: typeof extensions === 'string' ? JSON.parse(extensions) : extensions };
  } catch {
    return { query, documentId }; // Apollo reports malformed GET extensions itself
  }
}

/** Hands Apollo the manifest's text for a request that named a document by id only. */
function supplyQuery(req: Request, text: string): void {
  if (req.method === 'GET') {
    // The Express integration reads GET parameters from req.url.
    const url = new URL(req.url, 'http://localhost');
    url.searchParams.delete('documentId');
    url.searchParams.set('query', text);
    req.url = `${url.pathname}${url.search}`;
    return;
  }
  const body = req.body as Record<string, unknown>;
  delete body.documentId;
  body.query = text;
}

/**
 * The HTTP side of the checks, right after the body is parsed: a refusal is a 400 with the
 * error's code, before Apollo parses anything (ad-hoc text in `only` mode is not even lexed).
 */
export function checkDocuments(checks: DocumentChecks): RequestHandler {
  return (req, res, next) => {
    if (req.method !== 'GET' && req.method !== 'POST') return next(); // Apollo answers 405
    const fields = fieldsOf(req);
    const checked = checks(fields, 'http');
    if ('refused' in checked) {
      const { code, message } = checked.refused;
      return void res.status(400).json({ errors: [{ message, extensions: { code } }] });
    }
    if (checked.fromManifest && (fields.query === undefined || fields.query === '')) supplyQuery(req, checked.query!);
    next();
  };
}
