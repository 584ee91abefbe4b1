import { z } from 'zod';
import { int, section } from './section';

/** The OTel spec's built-in samplers (OTEL_TRACES_SAMPLER); the spec's default is parentbased_always_on. */
export const TRACE_SAMPLERS = [
  'always_on',
  'always_off',
  'traceidratio',
  'parentbased_always_on',
  'parentbased_always_off',
  'parentbased_traceidratio',
] as const;

export type TraceSampler = (typeof TRACE_SAMPLERS)[number];

/** Prometheus metrics and OpenTelemetry traces. */
export const observability = section(
  {
    // 9464: the port OpenTelemetry's Prometheus exporter uses by convention.
    METRICS_PORT: int(0, 65535).default(9464),
    METRICS_HOST: z.string().min(1, 'must not be empty').default('127.0.0.1'),
    // OpenTelemetry, named as the OTel spec names them; tracing is on only when the endpoint is set.
    OTEL_EXPORTER_OTLP_ENDPOINT: z
      .string()
      .regex(/^https?:\/\/[^\s?#]+$/, 'must be an http:// or https:// URL (the OTLP/HTTP base, without /v1/traces)')
      .optional(),
    OTEL_SERVICE_NAME: z.string().min(1).default('graphql-auth-items-api'),
    OTEL_TRACES_SAMPLER: z
      .enum(TRACE_SAMPLERS, { error: `must be one of ${TRACE_SAMPLERS.join(', ')}` })
      .default('parentbased_always_on'),
    OTEL_TRACES_SAMPLER_ARG: z
      .string()
      .regex(/^(0(\.\d+)?|1(\.0+)?|\.\d+)$/, 'must be a ratio between 0 and 1, such as 0.1')
      .transform(Number)
      .optional(),
  },
  (v) => ({
    /** The Prometheus scrape listener, apart from the public port; port 0 turns metrics off. */
    metrics: { port: v.METRICS_PORT, host: v.METRICS_HOST },
    /** OpenTelemetry traces (src/observability/tracing.ts); undefined when OTEL_EXPORTER_OTLP_ENDPOINT is unset: no SDK is loaded. */
    tracing: v.OTEL_EXPORTER_OTLP_ENDPOINT
      ? {
          /** Where spans are POSTed: the endpoint with the spec's `/v1/traces` path appended. */
          tracesUrl: `${v.OTEL_EXPORTER_OTLP_ENDPOINT.replace(/\/+$/, '')}/v1/traces`,
          serviceName: v.OTEL_SERVICE_NAME,
          sampler: v.OTEL_TRACES_SAMPLER,
          /** The ratio of the traceidratio samplers (OTEL_TRACES_SAMPLER_ARG, default 1). */
          samplerRatio: v.OTEL_TRACES_SAMPLER_ARG ?? 1,
        }
      : undefined,
  }),
);
