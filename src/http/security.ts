import cors from 'cors';
import type { Request, RequestHandler, Response } from 'express';
import helmet from 'helmet';
import { LRUCache } from 'lru-cache';
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
