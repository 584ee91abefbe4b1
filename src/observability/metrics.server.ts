import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Request, RequestHandler } from 'express';
import type { Metrics } from './metrics.registry';

/** The public routes by name; every other path (probes, typos) is `other`, so paths never become labels. */
const ROUTES = new Set(['/graphql', '/health', '/ready', '/oauth/token', '/playground']);

function routeOf(req: Request): string {
  const path = req.originalUrl.split('?')[0]!;
  if (ROUTES.has(path)) return path;
  if (path.startsWith('/playground/assets/')) return '/playground/assets';
  if (path.startsWith('/account/')) return '/account';
  return 'other';
}

/** Counts every response on the public port by route and status, once it is sent. */
export function countRequests(metrics: Metrics): RequestHandler {
  const { httpRequests } = metrics;
  return (req, res, next) => {
    res.once('finish', () => httpRequests.inc({ route: routeOf(req), status: String(res.statusCode) }));
    next();
  };
}

export interface MetricsListener {
  /** `http://host:port/metrics` */
  readonly url: string;
  close(): Promise<void>;
}

/**
 * The scrape endpoint on its own listener (METRICS_HOST:METRICS_PORT), so metrics never share
 * the public port: only `GET /metrics` answers, in the Prometheus text format.
 */
export function listenMetrics(metrics: Metrics, port: number, host: string): Promise<MetricsListener> {
  const server = http.createServer((req, res) => {
    if (req.method !== 'GET' || req.url?.split('?')[0] !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('Not found\n');
      return;
    }
    metrics.registry.metrics().then(
      (text) => res.writeHead(200, { 'content-type': metrics.registry.contentType }).end(text),
      () => res.writeHead(500, { 'content-type': 'text/plain' }).end('Metrics unavailable\n'),
    );
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      const { port: bound } = server.address() as AddressInfo;
      const shownHost = host.includes(':') ? `[${host}]` : host;
      resolve({
        url: `http://${shownHost}:${bound}/metrics`,
        close: () =>
          new Promise<void>((r) => {
            server.close(() => r());
            // A scraper's keep-alive connection would hold the close for its idle timeout.
            server.closeAllConnections();
          }),
      });
    });
  });
}
