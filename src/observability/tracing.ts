import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { IncomingMessage } from 'node:http';
import type { Config } from '../core/config';
import { PROJECT_ROOT } from '../core/paths';

/** What src/index.ts needs from a running SDK: flushing the spans still queued on shutdown. */
export interface Tracing {
  shutdown(): Promise<void>;
}

// Probes and scrapes: a span each would drown the traces people look for.
const UNTRACED_PATHS = new Set(['/health', '/ready', '/metrics']);

// Link tokens (the account pages) and a GraphQL GET's document and variables. This replaces the
// instrumentation's defaults, which name signed-URL parameters this service never receives.
const REDACTED_QUERY_PARAMS = ['token', 'query', 'variables', 'extensions'];

function serviceVersion(): string {
  const pkg = JSON.parse(readFileSync(path.join(PROJECT_ROOT, 'package.json'), 'utf8')) as { version?: string };
  return pkg.version ?? 'unknown';
}

/**
 * Starts OpenTelemetry traces when OTEL_EXPORTER_OTLP_ENDPOINT is set, else does nothing and loads
 * nothing: every SDK module is required inside this function. It must run before http, express,
 * graphql or mongodb are first required, because the instrumentations patch modules as they load.
 */
export async function startTracing(config: Pick<Config, 'tracing'>): Promise<Tracing | undefined> {
  const tracing = config.tracing;
  if (!tracing) return undefined;

  // Compiled to require() (CommonJS): nothing of the SDK is loaded unless tracing is on.
  const [
    { NodeSDK },
    { OTLPTraceExporter },
    base,
    { W3CTraceContextPropagator },
    { resourceFromAttributes },
    { ATTR_SERVICE_NAME, ATTR_SERVICE_VERSION },
    { HttpInstrumentation },
    { ExpressInstrumentation, ExpressLayerType },
    { GraphQLInstrumentation },
    { MongoDBInstrumentation },
  ] = await Promise.all([
    import('@opentelemetry/sdk-node'),
    import('@opentelemetry/exporter-trace-otlp-http'),
    import('@opentelemetry/sdk-trace-base'),
    import('@opentelemetry/core'),
    import('@opentelemetry/resources'),
    import('@opentelemetry/semantic-conventions'),
    import('@opentelemetry/instrumentation-http'),
    import('@opentelemetry/instrumentation-express'),
    import('@opentelemetry/instrumentation-graphql'),
    import('@opentelemetry/instrumentation-mongodb'),
  ]);

  const ratio = new base.TraceIdRatioBasedSampler(tracing.samplerRatio);
  const sampler = {
    always_on: () => new base.AlwaysOnSampler(),
    always_off: () => new base.AlwaysOffSampler(),
    traceidratio: () => ratio,
    parentbased_always_on: () => new base.ParentBasedSampler({ root: new base.AlwaysOnSampler() }),
    parentbased_always_off: () => new base.ParentBasedSampler({ root: new base.AlwaysOffSampler() }),
    parentbased_traceidratio: () => new base.ParentBasedSampler({ root: ratio }),
  }[tracing.sampler]();

  const sdk = new NodeSDK({
    resource: resourceFromAttributes({
      [ATTR_SERVICE_NAME]: tracing.serviceName,
      [ATTR_SERVICE_VERSION]: serviceVersion(),
    }),
    // No host/process/env detectors: the resource is what config.ts says (OTEL_RESOURCE_ATTRIBUTES is not read).
    autoDetectResources: false,
    sampler,
    spanProcessors: [new base.BatchSpanProcessor(new OTLPTraceExporter({ url: tracing.tracesUrl }))],
    textMapPropagator: new W3CTraceContextPropagator(),
    // Traces only: without these, NodeSDK would also export metrics and logs over OTLP by default.
    metricReaders: [],
    logRecordProcessors: [],
    instrumentations: [
      new HttpInstrumentation({
        ignoreIncomingRequestHook: (req: IncomingMessage) => UNTRACED_PATHS.has((req.url ?? '').split('?')[0]!),
        // Spans keep the query string (`url.query`): the account pages' links carry live reset and
        // verification tokens there, and GET /graphql its variables; whoever reads traces must not
        // be able to use them.
        redactedQueryParamsServer: REDACTED_QUERY_PARAMS,
      }),
      // A span per middleware (helmet, cors, body parser, …) or router costs more than it tells: handlers only.
      new ExpressInstrumentation({ ignoreLayersType: [ExpressLayerType.MIDDLEWARE, ExpressLayerType.ROUTER] }),
      // The operation's parse, validate and execute spans, no span per resolver: the database spans
      // already show where a resolver waits, and a span per field costs the most for the least.
      // Argument values stay out (allowValues off).
      new GraphQLInstrumentation({ ignoreResolveSpans: true }),
      // Commands without their values (enhancedDatabaseReporting off): no emails or hashes in spans.
      new MongoDBInstrumentation(),
    ],
  });
  sdk.start();
  return { shutdown: () => sdk.shutdown() };
}
