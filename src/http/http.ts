import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import express, { type ErrorRequestHandler, type Request, type RequestHandler } from 'express';
import type { ClientInfo } from '../core/context';
import proxyaddr from 'proxy-addr';
import type { Logger } from '../core/logger';

declare module 'http' {
  interface IncomingMessage {
    /** The request id (a well-formed `x-request-id`, else generated), set by requestLogger. */
    id: string;
    /** The request's logger: its lines carry `req: { id, method, url }`. */
    log: Logger;
  }
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

const REQUEST_LOG = Symbol('request log');
interface LoggedRequest {
  [REQUEST_LOG]?: { logger: Logger; fields: { id: string; method: string; url: string }; child?: Logger };
}

// `req.log` is a getter on Express's request prototype, so the child logger is built only when
// something logs (most requests log nothing), and no request gets a property of its own for it.
Object.defineProperty(express.request, 'log', {
  configurable: true,
  get(this: LoggedRequest): Logger | undefined {
    const log = this[REQUEST_LOG];
    return log && (log.child ??= log.logger.child({ req: log.fields }));
  },
});

/** The level of a request's completion line; `debug` for success, so production logs only problems. */
function levelOf(status: number): 'debug' | 'info' | 'warn' | 'error' {
  if (status === 503) return 'warn';
  if (status >= 500) return 'error';
  if (status >= 400) return 'info';
  return 'debug';
}

/**
 * Request logging with a request id, taken from a well-formed `x-request-id` or generated. The
 * same lines as pino-http wrote (`req: { id, method, url }` on every line of the request, and a
 * completion line with `res: { statusCode }` and `responseTime`), without its per-request cost:
 * the child logger is made only when something logs, and the completion line only when its
 * level is enabled (pino-http serialized the whole request and built a child for every one).
 */
export function requestLogger(logger: Logger): RequestHandler {
  return (req, res, next) => {
    const given = req.headers['x-request-id'];
    const id = typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
    res.setHeader('x-request-id', id);
    req.id = id;
    // Captured now: a router mounted on a path rewrites req.url later. Only the path: a query
    // string may carry a GraphQL document or variables.
    (req as LoggedRequest)[REQUEST_LOG] = { logger, fields: { id, method: req.method, url: req.url.split('?')[0]! } };
    const started = Date.now();
    const done = () => {
      res.off('finish', done);
      res.off('close', done);
      const status = res.statusCode;
      // Closed before the response was finished: the client went away (or the socket broke).
      if (!res.writableFinished) {
        if (logger.isLevelEnabled('info'))
          req.log.info({ responseTime: Date.now() - started, aborted: true }, 'request aborted');
        return;
      }
      const level = levelOf(status);
      if (!logger.isLevelEnabled(level)) return;
      const line = { res: { statusCode: status }, responseTime: Date.now() - started };
      if (status >= 500)
        req.log[level]({ ...line, err: new Error(`failed with status code ${status}`) }, 'request errored');
      else req.log[level](line, 'request completed');
    };
    res.on('finish', done);
    res.on('close', done);
    next();
  };
}

export type { ClientInfo } from '../core/context';

export function clientInfo(req: Request): ClientInfo {
  return { ip: req.ip, userAgent: req.headers['user-agent'] ?? null };
}

/** Express's compiled `trust proxy` setting (`app.get('trust proxy fn')`). */
export type TrustProxy = (addr: string, i: number) => boolean;

/** The same for a request no Express middleware saw (a WebSocket upgrade): its address read as `req.ip` is. */
export function upgradeClientInfo(request: IncomingMessage, trustProxy: TrustProxy): ClientInfo {
  return { ip: proxyaddr(request, trustProxy), userAgent: request.headers['user-agent'] ?? null };
}

export function requestId(req: Request): string {
  return String(req.id ?? '');
}

export const notFound: RequestHandler = (req, res) => {
  res.status(404).json({ error: 'not_found', message: `No route for ${req.method} ${req.path}` });
};

/** Turns body-parser and other HTTP-level failures into JSON, never an HTML page. */
export function jsonErrors(logger: Logger): ErrorRequestHandler {
  return (err, req, res, next) => {
    if (res.headersSent) return next(err);
    const status = typeof err?.status === 'number' && err.status >= 400 && err.status < 600 ? err.status : 500;
    if (status >= 500) {
      (req.log ?? logger).error({ err }, 'unhandled HTTP error');
      res.status(500).json({ error: 'internal_error', message: 'Internal server error' });
      return;
    }
    const type: string = typeof err?.type === 'string' ? err.type : '';
    const error =
      status === 413 ? 'payload_too_large' : type === 'entity.parse.failed' ? 'invalid_json' : 'bad_request';
    const message =
      error === 'payload_too_large'
        ? 'Request body is too large'
        : error === 'invalid_json'
          ? 'Request body is not valid JSON'
          : String(err?.expose ? err.message : 'Bad request');
    res.status(status).json({ error, message });
  };
}
