import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

/**
 * Every metric of one server, in its own prom-client Registry (never the global one: tests start
 * several servers in one process, and each must count only its own requests).
 *
 * This module imports nothing of the project, so core modules (rate limits) may count into it.
 * Every label value is bounded: operation names from the committed set, error codes, route
 * templates, enum values — never query text, ids or emails.
 */
export interface Metrics {
  readonly registry: Registry;
  readonly operationDuration: Histogram<'operation' | 'type' | 'outcome'>;
  readonly graphqlErrors: Counter<'code'>;
  readonly httpRequests: Counter<'route' | 'status'>;
  readonly authEvents: Counter<'event'>;
  readonly rateLimited: Counter<'limit'>;
  readonly poolCheckedOut: Gauge;
  readonly poolCheckoutWait: Histogram;
  readonly poolCheckoutFailures: Counter<'reason'>;
  /** A gauge read at scrape time (socket count, outbox backlog): nothing is counted per request. */
  watch(name: string, help: string, read: () => number | Promise<number>): void;
}

/** The label values of the counters known in advance: each is exported at zero from the start. */
export interface KnownLabels {
  readonly errorCodes?: readonly string[];
  readonly authEvents?: readonly string[];
  readonly rateLimits?: readonly string[];
}

/**
 * The metrics of one server. Counters whose label values are known start with a zero sample for
 * each (the Prometheus instrumentation guide's advice), so `rate()` and alerts see a series from
 * the first scrape instead of one that appears with its first event.
 */
export function createMetrics(known: KnownLabels = {}): Metrics {
  const registry = new Registry();
  // Event-loop lag, heap, GC, CPU, open handles: prom-client's standard process metrics.
  collectDefaultMetrics({ register: registry });
  const registers = [registry];
  const metrics: Metrics = {
    registry,
    operationDuration: new Histogram({
      name: 'graphql_operation_duration_seconds',
      help: 'GraphQL operations over HTTP, from the request reaching Apollo to the response',
      labelNames: ['operation', 'type', 'outcome'],
      // From a cached read (a few ms) to a bcrypt login under load.
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    }),
    graphqlErrors: new Counter({
      name: 'graphql_errors_total',
      help: 'Errors in GraphQL responses, by extensions.code',
      labelNames: ['code'],
      registers,
    }),
    httpRequests: new Counter({
      name: 'http_requests_total',
      help: 'HTTP responses on the public port, by route and status',
      labelNames: ['route', 'status'],
      registers,
    }),
    authEvents: new Counter({
      name: 'auth_events_total',
      help: 'Authentication events (the audit log types in lower case: login_failed, account_locked, …)',
      labelNames: ['event'],
      registers,
    }),
    rateLimited: new Counter({
      name: 'rate_limited_total',
      help: 'Requests refused by a rate limit, by limit',
      labelNames: ['limit'],
      registers,
    }),
    poolCheckedOut: new Gauge({
      name: 'mongodb_pool_checked_out_connections',
      help: 'MongoDB connections checked out of the driver pool (in use by an operation)',
      registers,
    }),
    poolCheckoutWait: new Histogram({
      name: 'mongodb_pool_checkout_wait_seconds',
      help: 'Time an operation waited for a pooled MongoDB connection',
      buckets: [0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 3],
      registers,
    }),
    poolCheckoutFailures: new Counter({
      name: 'mongodb_pool_checkout_failures_total',
      help: 'Checkouts the pool could not serve, by reason (timeout, connectionError, poolClosed)',
      labelNames: ['reason'],
      registers,
    }),
    watch(name, help, read) {
      new Gauge({
        name,
        help,
        registers,
        async collect() {
          // A failed read (database away) keeps the last value rather than failing the scrape.
          try {
            this.set(await read());
          } catch {
            /* keep the last value */
          }
        },
      });
    },
  };
  for (const code of known.errorCodes ?? []) metrics.graphqlErrors.inc({ code }, 0);
  for (const event of known.authEvents ?? []) metrics.authEvents.inc({ event }, 0);
  for (const limit of known.rateLimits ?? []) metrics.rateLimited.inc({ limit }, 0);
  return metrics;
}

let current: Metrics | undefined;

/** The metrics of the running server, for code deep in a request (rate limits); none when off. */
export function currentMetrics(): Metrics | undefined {
  return current;
}

/** Installs the metrics `createServer` built (undefined: off); returns the previous ones. */
export function setMetrics(metrics: Metrics | undefined): Metrics | undefined {
  const previous = current;
  current = metrics;
  return previous;
}
