import { z } from 'zod';
import { bool, commaList, int, section } from './section';
import type { ServerSettings } from './server';

/** A comma-separated list of origins (CORS_ORIGINS, WEBAUTHN_ORIGINS). */
export const originList = z
  .string()
  .transform(commaList)
  .pipe(z.array(z.url({ error: 'must be a comma-separated list of origins such as https://app.example.com' })));

/** CORS_ORIGINS, which the webauthn section reads too (its default origins). */
export const corsOriginsVariable = originList.default([]);

/** The HTTP edge: the playground, introspection, trusted documents, request bodies, CORS, proxies, timeouts. */
export const http = section(
  {
    PLAYGROUND: bool.optional(),
    INTROSPECTION: bool.optional(),
    TRUSTED_DOCUMENTS: z.enum(['off', 'allow', 'only'], { error: 'must be off, allow or only' }).default('off'),
    BODY_LIMIT: z
      .string()
      .regex(/^\d+(b|kb|mb)?$/i, 'must be a size such as 100kb or 1mb')
      .default('100kb'),
    CORS_ORIGINS: corsOriginsVariable,
    TRUST_PROXY: z
      .string()
      .regex(/^(true|false|\d+|[\w.:/, -]+)$/, 'must be true, false, a hop count or a list of proxy addresses')
      .default('false'),
    HEADERS_TIMEOUT_MS: int(1000, 600_000).default(10_000),
    REQUEST_TIMEOUT_MS: int(1000, 600_000).default(30_000),
    KEEP_ALIVE_TIMEOUT_MS: int(100, 600_000).default(5_000),
  },
  (v, { isProduction }: ServerSettings) => ({
    playground: v.PLAYGROUND ?? !isProduction,
    introspection: v.INTROSPECTION ?? !isProduction,
    /** Documents from schema/generated/persisted-documents.json: off, also served by hash, or the only ones run. */
    trustedDocuments: v.TRUSTED_DOCUMENTS,
    http: {
      bodyLimit: v.BODY_LIMIT,
      corsOrigins: v.CORS_ORIGINS,
      /** Express's `trust proxy` setting: false, true, a hop count, or proxy addresses. */
      trustProxy: parseTrustProxy(v.TRUST_PROXY),
      headersTimeoutMs: v.HEADERS_TIMEOUT_MS,
      requestTimeoutMs: v.REQUEST_TIMEOUT_MS,
      keepAliveTimeoutMs: v.KEEP_ALIVE_TIMEOUT_MS,
    },
  }),
);

function parseTrustProxy(value: string): boolean | number | string {
  if (value === 'true') return true;
  if (value === 'false') return false;
  if (/^\d+$/.test(value)) return Number(value);
  return value;
}
