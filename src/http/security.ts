import { createHash } from 'node:crypto';
import cors from 'cors';
import type { Request, RequestHandler, Response } from 'express';
import helmet from 'helmet';
import { LRUCache } from 'lru-cache';
import { MaxTokensParserWLexer } from '@escape.tech/graphql-armor-max-tokens';
import type { Config } from '../core/config';
import type { Logger } from '../core/logger';

/**
 * Security headers. The playground page gets a policy that lets its own bundle run; the account
 * pages get a stricter one (no inline styles either) and never send a Referer, since their URL
 * carries a live token.
 */
export function securityHeaders(): { api: RequestHandler; playground: RequestHandler; accountPages: RequestHandler } {
  return {
    api: fixedHeaders(helmet()),
    accountPages: helmet({
      contentSecurityPolicy: {
        directives: {
          'default-src': ["'self'"],
          'script-src': ["'self'"],
          'style-src': ["'self'"],
          'img-src': ["'self'"],
          'connect-src': ["'self'"],
          'form-action': ["'self'"],
          'base-uri': ["'none'"],
          'frame-ancestors': ["'none'"],
        },
      },
      referrerPolicy: { policy: 'no-referrer' },
    }),
    playground: helmet({
      contentSecurityPolicy: {
        directives: {
          'default-src': ["'self'"],
          'script-src': ["'self'"],
          // GraphiQL and CodeMirror set inline styles; fonts are inlined as data: URLs.
          'style-src': ["'self'", "'unsafe-inline'"],
          'font-src': ["'self'", 'data:'],
          'img-src': ["'self'", 'data:'],
          'connect-src': ["'self'"],
          'worker-src': ["'self'", 'blob:'],
        },
      },
    }),
  };
}

/**
 * A helmet policy's headers, computed once: without per-request directives (nonces) they do not
 * depend on the request, and replaying them costs one loop instead of a dozen middlewares on
 * every API request.
 */
export function fixedHeaders(policy: RequestHandler): RequestHandler {
  const set: Array<[string, string]> = [];
  const removed: string[] = [];
  const res = {
    setHeader: (name: string, value: string) => void set.push([name, value]),
    removeHeader: (name: string) => void removed.push(name),
  };
  let done = false;
  void policy({ headers: {}, method: 'GET', url: '/' } as Request, res as unknown as Response, (err?: unknown) => {
    if (err) throw err instanceof Error ? err : new Error(String(err));
    done = true;
  });
  // A policy that waits or reads the request cannot be replayed: refuse at start-up.
  if (!done) throw new Error('fixedHeaders: the policy did not finish synchronously');
  return (_req, res, next) => {
    for (const [name, value] of set) res.setHeader(name, value);
    for (const name of removed) res.removeHeader(name);
    next();
  };
}

/** Headers Apollo Client (clientAwareness) and W3C trace propagation send, besides our own. */
const CORS_HEADERS = [
  'content-type',
  'authorization',
  'apollo-require-preflight',
  'x-apollo-operation-name',
  'x-request-id',
  'apollographql-client-name',
  'apollographql-client-version',
  'traceparent',
  'tracestate',
  'baggage',
];

/** How many refused origins are remembered, so a flood of made-up ones cannot grow memory. */
const REFUSED_ORIGINS_KEPT = 1000;

/**
 * CORS for the listed origins only (none by default); credentials only for those origins. A
 * refused origin is logged once (a browser only says "Failed to fetch"), unless it is the
 * server's own host, which needs no CORS.
 */
export function corsPolicy(config: Config, logger: Logger): RequestHandler {
  const allowed = new Set(config.http.corsOrigins);
  const refused = new LRUCache<string, true>({ max: REFUSED_ORIGINS_KEPT });
  const policy = cors({
    origin: (origin, callback) => callback(null, origin !== undefined && allowed.has(origin)),
    credentials: true,
    methods: ['GET', 'POST', 'OPTIONS'],
    allowedHeaders: CORS_HEADERS,
    exposedHeaders: ['x-request-id', 'retry-after', 'www-authenticate'],
    maxAge: 600,
  });
  const sameHost = (origin: string, host: string) => {
    try {
      return new URL(origin).host === host;
    } catch {
      return false; // "null" (sandboxed frames, file:) and other non-URLs
    }
  };
  return (req, res, next) => {
    const origin = req.headers.origin;
    // Requests without an Origin (same-origin, curl, servers) need no CORS headers.
    if (origin === undefined) return next();
    if (!allowed.has(origin) && !refused.get(origin) && !sameHost(origin, req.host)) {
      refused.set(origin, true);
      (req.log ?? logger).warn(
        { origin, corsOrigins: [...allowed] },
        'CORS: refused a request from an Origin not in CORS_ORIGINS (an entry must match exactly: same ' +
          'scheme, host and port, no trailing slash or path, no wildcards); logged once per origin',
      );
    }
    policy(req, res, next);
  };
}

/** Total length of the documents tokenLimit remembers as within the limit. */
const TOKEN_CHECKED_CHARS = 2_000_000;

/**
 * graphql-armor's token limit, applied before Apollo: inside Apollo 5 a failure in the parsing
 * hook becomes a 500, while a document over the limit is the client's fault (400).
 */
export function tokenLimit(maxTokens: number): RequestHandler {
  // Documents already counted within the limit: a client sends the same few again and again, and
  // lexing each on every request was a measurable share of a small operation's cost. Bounded by
  // total length, so large documents cannot grow memory.
  const within = new LRUCache<string, true>({
    maxSize: TOKEN_CHECKED_CHARS,
    sizeCalculation: (_v, k) => k.length || 1,
  });
  return (req, res, next) => {
    const body = req.body as { query?: unknown } | undefined;
    const source = req.method === 'GET' ? req.query.query : body?.query;
    if (typeof source !== 'string' || within.get(source)) return next();
    let exceeded: Error | undefined;
    try {
      const onReject = [(_ctx: unknown, err: Error) => void (exceeded = err)];
      new MaxTokensParserWLexer(source, { n: maxTokens, onReject }).parseDocument();
    } catch {
      // Other syntax errors are left to Apollo, which reports them as GRAPHQL_PARSE_FAILED.
    }
    if (!exceeded) {
      if (source.length <= TOKEN_CHECKED_CHARS / 100) within.set(source, true);
      return next();
    }
    res
      .status(400)
      .json({ errors: [{ message: exceeded.message, extensions: { code: 'GRAPHQL_VALIDATION_FAILED' } }] });
  };
}

/**
 * Automatic persisted queries: a request carrying both a query and its SHA-256 registers it
 * under that hash. Apollo refuses a hash that does not match the query (so nobody can store a
 * different query under a known hash) but without a code, which clients then see as
 * INTERNAL_SERVER_ERROR; this check answers first with a code a client can act on.
 */
export function persistedQueryHashCheck(): RequestHandler {
  return (req, res, next) => {
    const body = req.body as { query?: unknown; extensions?: unknown } | undefined;
    const query = req.method === 'GET' ? req.query.query : body?.query;
    let extensions = req.method === 'GET' ? req.query.extensions : body?.extensions;
    if (typeof query !== 'string') return next();
    if (typeof extensions === 'string') {
      try {
        extensions = JSON.parse(extensions);
      } catch {
        return next(); // Apollo reports malformed GET extensions itself
      }
    }
    const hash = (extensions as { persistedQuery?: { sha256Hash?: unknown } } | null | undefined)?.persistedQuery
      ?.sha256Hash;
    if (typeof hash !== 'string' || hash === createHash('sha256').update(query).digest('hex')) return next();
    res.status(400).json({
      errors: [
        {
          message: 'The persisted query hash does not match the query',
          extensions: { code: 'PERSISTED_QUERY_HASH_MISMATCH' },
        },
      ],
    });
  };
}

/**
 * For requests a browser makes without a CORS preflight (a WebSocket upgrade): no Origin (not a
 * browser), this server's own host, or one of CORS_ORIGINS.
 */
export function originAllowed(config: Pick<Config, 'http'>, origin: string | undefined, host: string | undefined) {
  if (origin === undefined) return true;
  if (config.http.corsOrigins.includes(origin)) return true;
  try {
    return host !== undefined && new URL(origin).host === host.toLowerCase();
  } catch {
    return false;
  }
}
