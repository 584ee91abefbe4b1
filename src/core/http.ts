import { randomUUID } from 'node:crypto';
import type { ErrorRequestHandler, Request, RequestHandler } from 'express';
import pinoHttp from 'pino-http';
import type { Logger } from './logger';

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** Request logging with a request id, taken from a well-formed `x-request-id` or generated. */
export function requestLogger(logger: Logger): RequestHandler {
  return pinoHttp({
    logger,
    genReqId(req, res) {
      const given = req.headers['x-request-id'];
      const id = typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
      res.setHeader('x-request-id', id);
      return id;
    },
    customLogLevel(_req, res, err) {
      if (res.statusCode === 503) return 'warn';
      if (err || res.statusCode >= 500) return 'error';
      if (res.statusCode >= 400) return 'info';
      return 'debug';
    },
    // Only what helps to debug; the rest of the request (headers included) stays out of logs.
    serializers: {
      req: (req: { id: string; method: string; url: string }) => ({
        id: req.id,
        method: req.method,
        url: req.url.split('?')[0],
      }),
      res: (res: { statusCode: number }) => ({ statusCode: res.statusCode }),
    },
  });
}

/** Who is calling, as far as HTTP tells: for rate limits (TRUST_PROXY applied) and the audit log. */
export interface ClientInfo {
  ip?: string;
  userAgent?: string | null;
}

export function clientInfo(req: Request): ClientInfo {
  return { ip: req.ip, userAgent: req.headers['user-agent'] ?? null };
}

export function requestId(req: Request): string {
  return String((req as Request & { id?: unknown }).id ?? '');
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
