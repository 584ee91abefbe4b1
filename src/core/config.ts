import { hkdfSync, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';

/** The one module that reads `process.env`. Everything else receives a `Config`. */

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** Secrets that may also be given as `<NAME>_FILE` (Docker/Compose secrets). */
export const SECRET_VARIABLES = [
  'MONGODB_URI',
  'JWT_SECRET',
  'ADMIN_PASSWORD',
  'SMTP_URL',
  'REDIS_URL',
  'API_KEY_PEPPER',
  'TOTP_ENCRYPTION_KEY',
] as const;

const int = (min: number, max: number) =>
  z
    .string()
    .regex(/^\d+$/, `must be a whole number between ${min} and ${max}`)
    .transform(Number)
    .pipe(z.number().int().min(min, `must be at least ${min}`).max(max, `must be at most ${max}`));

const bool = z.enum(['true', 'false'], { error: 'must be "true" or "false"' }).transform((v) => v === 'true');

/** The OTel spec's built-in samplers (OTEL_TRACES_SAMPLER); the spec's default is parentbased_always_on. */
export const TRACE_SAMPLERS = [
  'always_on',
  'always_off',
  'traceidratio',
  'parentbased_always_on',
  'parentbased_always_off',
  'parentbased_traceidratio',
] as const;

/** A link template for a frontend's page: an http(s) URL with `{token}` where the token goes. */
const linkTemplate = z
  .string()
  .regex(/^https?:\/\/\S+$/, 'must be an http:// or https:// URL')
  .refine((s) => s.includes('{token}'), 'must contain {token}');

const schema = z.object({
  NODE_ENV: z
    .enum(['development', 'test', 'production'], { error: 'must be development, test or production' })
    .default('development'),
  PORT: int(0, 65535).default(4000),
  HOST: z.string().min(1, 'must not be empty').default('0.0.0.0'),
  LOG_LEVEL: z
    .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], {
      error: 'must be one of fatal, error, warn, info, debug, trace, silent',
    })
    .optional(),
  MONGODB_URI: z
    .string()
    .regex(/^mongodb(\+srv)?:\/\/\S+$/, 'must be a mongodb:// or mongodb+srv:// connection string')
    .optional(),
  MONGOD_BINARY: z.string().min(1).optional(),
  DB_QUERY_TIMEOUT_MS: int(1, 600_000).default(10_000),
  DATA_DIR: z.string().min(1).default('.data'),
  SHUTDOWN_TIMEOUT_MS: int(0, 120_000).default(10_000),
  SHUTDOWN_DELAY_MS: int(0, 60_000).default(0),
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
  JWT_SECRET: z
    .string()
    .refine((s) => Buffer.byteLength(s, 'utf8') >= 32, 'must be at least 32 bytes long')
    .optional(),
  JWT_ISSUER: z.string().min(1).default('graphql-auth-items-api'),
  JWT_AUDIENCE: z.string().min(1).default('graphql-auth-items-api'),
  API_KEY_PEPPER: z
    .string()
    .refine((s) => Buffer.byteLength(s, 'utf8') >= 32, 'must be at least 32 bytes long')
    .optional(),
  API_KEY_RATE_LIMIT: int(1, 1_000_000_000).default(600),
  // 32 random bytes (AES-256), as base64 (44 characters) or hex (64): `openssl rand -base64 32`.
  TOTP_ENCRYPTION_KEY: z
    .string()
    .transform((s) => (/^[0-9a-fA-F]{64}$/.test(s) ? Buffer.from(s, 'hex') : Buffer.from(s, 'base64')))
    .refine((key) => key.length === 32, 'must be 32 bytes, as base64 or hex (`openssl rand -base64 32`)')
    .transform((key) => key.toString('base64url'))
    .optional(),
  ACCESS_TOKEN_TTL: int(1, 86_400).default(900),
  REFRESH_TOKEN_TTL: int(60, 365 * 86_400).default(30 * 86_400),
  BCRYPT_COST: int(4, 15).default(12),
  BCRYPT_MAX_QUEUE: int(0, 10_000).default(32),
  SESSION_IDLE_TIMEOUT: int(60, 365 * 86_400).default(14 * 86_400),
  REFRESH_REUSE_INTERVAL: int(0, 30).default(10),
  LOGIN_MAX_ATTEMPTS: int(1, 1000).default(5),
  LOGIN_LOCK_SECONDS: int(1, 86_400).default(900),
  ADMIN_EMAIL: z.string().min(3).optional(),
  ADMIN_PASSWORD: z.string().min(1).optional(),
  BASIC_AUTH_CACHE_SECONDS: int(0, 60).default(60),
  SESSION_CLEANUP_INTERVAL_SECONDS: int(0, 86_400).default(3600),
  AUDIT_RETENTION_DAYS: int(1, 3650).default(90),
  EMAIL_VERIFICATION_TTL: int(60, 30 * 86_400).default(86_400),
  PASSWORD_RESET_TTL: int(60, 86_400).default(1800),
  EMAIL_CHANGE_TTL: int(60, 7 * 86_400).default(3600),
  REQUIRE_EMAIL_VERIFICATION: bool.default(false),
  PLAYGROUND: bool.optional(),
  INTROSPECTION: bool.optional(),
  TRUSTED_DOCUMENTS: z.enum(['off', 'allow', 'only'], { error: 'must be off, allow or only' }).default('off'),
  BODY_LIMIT: z
    .string()
    .regex(/^\d+(b|kb|mb)?$/i, 'must be a size such as 100kb or 1mb')
    .default('100kb'),
  CORS_ORIGINS: z
    .string()
    .transform((s) =>
      s
        .split(',')
        .map((o) => o.trim())
        .filter(Boolean),
    )
    .pipe(z.array(z.url({ error: 'must be a comma-separated list of origins such as https://app.example.com' })))
    .default([]),
  TRUST_PROXY: z
    .string()
    .regex(/^(true|false|\d+|[\w.:/, -]+)$/, 'must be true, false, a hop count or a list of proxy addresses')
    .default('false'),
  MAX_DEPTH: int(1, 100).default(10),
  MAX_ALIASES: int(1, 1000).default(15),
  MAX_DIRECTIVES: int(1, 1000).default(50),
  MAX_TOKENS: int(10, 100_000).default(1000),
  MAX_COST: int(1, 1_000_000).default(5000),
  RATE_LIMIT_WINDOW_SECONDS: int(1, 86_400).default(60),
  RATE_LIMIT_PER_IP: int(1, 1_000_000_000).default(30),
  RATE_LIMIT_PER_ACCOUNT: int(1, 1_000_000_000).default(10),
  READ_RATE_LIMIT_PER_USER: int(1, 1_000_000_000).default(1200),
  WRITE_RATE_LIMIT_PER_USER: int(1, 1_000_000_000).default(120),
  MAX_ITEMS_PER_USER: int(1, 1_000_000_000).default(10_000),
  HEADERS_TIMEOUT_MS: int(1000, 600_000).default(10_000),
  REQUEST_TIMEOUT_MS: int(1000, 600_000).default(30_000),
  KEEP_ALIVE_TIMEOUT_MS: int(100, 600_000).default(5_000),
  SMTP_URL: z
    .string()
    .regex(/^smtps?:\/\/\S+$/, 'must be an smtp:// or smtps:// URL')
    .optional(),
  MAIL_FROM: z
    .string()
    .min(3, 'must be an address such as "App <no-reply@example.com>"')
    .default('GraphQL API <no-reply@localhost>'),
  MAIL_TRANSPORT: z.enum(['smtp', 'log'], { error: 'must be smtp or log' }).optional(),
  MAIL_MAX_ATTEMPTS: int(1, 100).default(8),
  PUBLIC_URL: z
    .string()
    .regex(/^https?:\/\/[^\s?#]+$/, 'must be an http:// or https:// URL without query or fragment')
    .optional(),
  REDIS_URL: z
    .string()
    .regex(/^rediss?:\/\/\S+$/, 'must be a redis:// or rediss:// URL')
    .optional(),
  WS_MAX_SUBSCRIPTIONS: int(1, 1000).default(20),
  WS_MAX_CONNECTIONS_PER_USER: int(1, 100_000).default(10),
  WS_MAX_MESSAGE_BYTES: int(1024, 10 * 1024 * 1024).default(100 * 1024),
  WS_MAX_BUFFERED_BYTES: int(1024, 1024 * 1024 * 1024).default(1024 * 1024),
  WS_MAX_QUEUED_EVENTS: int(1, 1_000_000).default(1000),
  WS_CONNECTION_INIT_TIMEOUT_MS: int(100, 60_000).default(10_000),
  WS_MAX_UNAUTHENTICATED_PER_IP: int(1, 100_000).default(50),
  WS_MAX_UNAUTHENTICATED: int(1, 1_000_000).default(1000),
  WS_KEEPALIVE_MS: int(0, 600_000).default(12_000),
  WS_AUTH_RECHECK_SECONDS: int(1, 30).default(15),
  VERIFY_EMAIL_URL: linkTemplate.optional(),
  RESET_PASSWORD_URL: linkTemplate.optional(),
  CONFIRM_EMAIL_CHANGE_URL: linkTemplate.optional(),
});

type Env = Record<string, string | undefined>;

export type TraceSampler = (typeof TRACE_SAMPLERS)[number];

export interface Config {
  readonly env: 'development' | 'test' | 'production';
  readonly isProduction: boolean;
  readonly port: number;
  readonly host: string;
  readonly logLevel: string;
  /** Absent outside production: the embedded database is started instead. */
  readonly mongodbUri?: string;
  readonly mongodBinary?: string;
  /** The time limit (maxTimeMS) of every database read; past it the request answers SERVICE_UNAVAILABLE. */
  readonly dbQueryTimeoutMs: number;
  readonly dataDir: string;
  readonly shutdownTimeoutMs: number;
  /** How long /ready answers 503 before the listener closes (for load balancers to notice). */
  readonly shutdownDelayMs: number;
  /** The Prometheus scrape listener, apart from the public port; port 0 turns metrics off. */
  readonly metrics: { readonly port: number; readonly host: string };
  /** OpenTelemetry traces (src/tracing); undefined when OTEL_EXPORTER_OTLP_ENDPOINT is unset: no SDK is loaded. */
  readonly tracing?: {
    /** Where spans are POSTed: the endpoint with the spec's `/v1/traces` path appended. */
    readonly tracesUrl: string;
    readonly serviceName: string;
    readonly sampler: TraceSampler;
    /** The ratio of the traceidratio samplers (OTEL_TRACES_SAMPLER_ARG, default 1). */
    readonly samplerRatio: number;
  };
  readonly jwt: {
    readonly secret: string;
    /** True when no JWT_SECRET was given and a per-process one was generated. */
    readonly generated: boolean;
    readonly issuer: string;
    readonly audience: string;
    readonly accessTokenTtl: number;
    readonly refreshTokenTtl: number;
    /** A session whose refresh token goes unused this long (seconds) ends. */
    readonly sessionIdleTimeout: number;
    /** Seconds after a rotation during which the parent refresh token returns the same child. */
    readonly refreshReuseInterval: number;
  };
  /** API keys (src/apikeys): the HMAC pepper their secrets are stored under, and requests per key per window. */
  readonly apiKeys: { readonly pepper: string; readonly requestsPerWindow: number };
  /** TOTP two-factor sign-in (src/mfa): the AES-256-GCM key its secrets are stored under (32 bytes, base64url). */
  readonly totp: { readonly encryptionKey: string };
  readonly bcryptCost: number;
  /** Password checks allowed to wait for a hashing thread; past that, 503 at once. */
  readonly bcryptMaxQueue: number;
  readonly login: { readonly maxAttempts: number; readonly lockSeconds: number };
  readonly admin?: { readonly email: string; readonly password: string };
  readonly basicAuthCacheSeconds: number;
  readonly sessionCleanupIntervalSeconds: number;
  /** How long audit events are kept; housekeeping deletes older ones. */
  readonly auditRetentionDays: number;
  /** Link lifetimes (seconds) and whether an unverified address may sign in. */
  readonly account: {
    readonly emailVerificationTtl: number;
    readonly passwordResetTtl: number;
    readonly emailChangeTtl: number;
    readonly requireEmailVerification: boolean;
  };
  readonly playground: boolean;
  readonly introspection: boolean;
  /** Documents from schema/generated/persisted-documents.json: off, also served by hash, or the only ones run. */
  readonly trustedDocuments: 'off' | 'allow' | 'only';
  readonly http: {
    readonly bodyLimit: string;
    readonly corsOrigins: readonly string[];
    /** Express's `trust proxy` setting: false, true, a hop count, or proxy addresses. */
    readonly trustProxy: boolean | number | string;
    readonly headersTimeoutMs: number;
    readonly requestTimeoutMs: number;
    readonly keepAliveTimeoutMs: number;
  };
  readonly limits: {
    readonly maxDepth: number;
    readonly maxAliases: number;
    readonly maxDirectives: number;
    readonly maxTokens: number;
    readonly maxCost: number;
  };
  readonly rateLimit: {
    readonly windowSeconds: number;
    readonly perIp: number;
    readonly perAccount: number;
    /** Query operations per signed-in user (an API key's count for its owner) per window. */
    readonly readsPerUser: number;
  };
  /** Per-user limits on item writes: writes per rate-limit window, and items owned. */
  readonly itemLimits: { readonly writesPerWindow: number; readonly maxPerUser: number };
  /** GraphQL subscriptions over WebSocket (src/realtime). */
  readonly realtime: {
    /** Events go through Redis pub/sub when set (several instances); in-process otherwise. */
    readonly redisUrl?: string;
    readonly maxSubscriptions: number;
    readonly maxConnectionsPerUser: number;
    readonly maxMessageBytes: number;
    /** A socket whose unsent data passes this is a slow consumer and is disconnected. */
    readonly maxBufferedBytes: number;
    /** Events waiting for one subscription before its socket counts as a slow consumer. */
    readonly maxQueuedEvents: number;
    readonly connectionInitTimeoutMs: number;
    /** Sockets that have not finished connection_init, per client address (IPv6 per /64); past it the upgrade gets 429. */
    readonly maxUnauthenticatedPerIp: number;
    /** Sockets that have not finished connection_init, in all on this instance; past it the upgrade gets 429. */
    readonly maxUnauthenticated: number;
    /** Ping interval; a socket that does not answer within one interval is dropped. 0: off. */
    readonly keepAliveMs: number;
    /** How often each connection's credential is checked again even when nothing says so. */
    readonly authRecheckSeconds: number;
  };
  readonly mail: {
    /** `log` writes each message to the log instead of sending it (development only). */
    readonly transport: 'smtp' | 'log';
    readonly smtpUrl?: string;
    readonly from: string;
    /** Send attempts per message before it is marked failed. */
    readonly maxAttempts: number;
    /** Where the service is reachable from a browser, without a trailing slash. */
    readonly publicUrl: string;
    /** Link templates, each containing `{token}`. */
    readonly links: {
      readonly verifyEmail: string;
      readonly resetPassword: string;
      readonly confirmEmailChange: string;
    };
  };
}

/**
 * Why a secret is obviously low-entropy, or undefined. Length alone lets `aaaa…` or
 * `changemechangeme…` through. The bounds leave every random value of at least 32 characters
 * alone: `openssl rand -hex 16` (the weakest common generator) shows at least 9 distinct
 * characters and 89 bits by the count below in 300 000 draws.
 */
export function secretWeakness(secret: string): string | undefined {
  const chars = [...secret];
  for (let period = 1; period <= 16 && period * 2 <= chars.length; period++) {
    if (chars.every((c, i) => c === chars[i % period])) return 'a repeated character or pattern';
  }
  const counts = new Map<string, number>();
  for (const c of chars) counts.set(c, (counts.get(c) ?? 0) + 1);
  if (counts.size < 8) return 'fewer than 8 distinct characters';
  // Bits by character frequency (Shannon): catches `aaaa…aaabcdefgh`, mostly one character.
  let bits = 0;
  for (const n of counts.values()) bits -= n * Math.log2(n / chars.length);
  if (bits < 64) return 'mostly the same few characters';
  return undefined;
}

/** Resolves `X_FILE` into `X`, so the schema only ever sees plain values. */
function resolveSecretFiles(env: Env): Env {
  const out: Env = { ...env };
  for (const name of SECRET_VARIABLES) {
    const file = env[`${name}_FILE`];
    if (file === undefined || file === '') continue;
    if (env[name] !== undefined && env[name] !== '') {
      throw new ConfigError(`${name}: set either ${name} or ${name}_FILE, not both`);
    }
    try {
      out[name] = readFileSync(file, 'utf8').replace(/\r?\n$/, '');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? 'unreadable';
      throw new ConfigError(`${name}_FILE: cannot read "${file}" (${code})`);
    }
  }
  return out;
}

/** Empty strings count as unset, as shells and Compose files often produce them. */
function dropEmpty(env: Env): Env {
  return Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
}

function describe(issue: z.core.$ZodIssue, env: Env): string {
  const name = String(issue.path[0] ?? 'configuration');
  const value = env[name];
  const shown = value === undefined || SECRET_VARIABLES.some((s) => name.startsWith(s)) ? '' : ` (got "${value}")`;
  const message = issue.code === 'invalid_type' && value === undefined ? 'is required' : issue.message;
  return `${name}: ${message}${shown}`;
}

export function loadConfig(source: Env = process.env): Config {
  const env = dropEmpty(resolveSecretFiles(source));
  const parsed = schema.safeParse(env);
  if (!parsed.success) {
    throw new ConfigError(describe(parsed.error.issues[0]!, env));
  }
  const v = parsed.data;
  const isProduction = v.NODE_ENV === 'production';

  if (isProduction) {
    if (!v.MONGODB_URI) throw new ConfigError('MONGODB_URI: is required when NODE_ENV=production');
    if (!v.JWT_SECRET) throw new ConfigError('JWT_SECRET: is required when NODE_ENV=production (at least 32 bytes)');
    const weakness = secretWeakness(v.JWT_SECRET);
    if (weakness)
      throw new ConfigError(
        `JWT_SECRET: is easy to guess (${weakness}) when NODE_ENV=production; generate one with \`openssl rand -base64 48\``,
      );
    const pepperWeakness = v.API_KEY_PEPPER === undefined ? undefined : secretWeakness(v.API_KEY_PEPPER);
    if (pepperWeakness)
      throw new ConfigError(
        `API_KEY_PEPPER: is easy to guess (${pepperWeakness}) when NODE_ENV=production; generate one with \`openssl rand -base64 48\``,
      );
    if (v.BCRYPT_COST < 10)
      throw new ConfigError(`BCRYPT_COST: must be at least 10 when NODE_ENV=production (got "${v.BCRYPT_COST}")`);
  }
  const mailTransport = v.MAIL_TRANSPORT ?? (v.SMTP_URL ? 'smtp' : isProduction ? undefined : 'log');
  if (mailTransport === undefined) {
    // Logging mail in production puts live links into the logs: only when asked for explicitly.
    throw new ConfigError('SMTP_URL: is required when NODE_ENV=production (or set MAIL_TRANSPORT=log explicitly)');
  }
  if (mailTransport === 'smtp' && !v.SMTP_URL) {
    throw new ConfigError('SMTP_URL: is required when MAIL_TRANSPORT=smtp');
  }
  if ((v.ADMIN_EMAIL === undefined) !== (v.ADMIN_PASSWORD === undefined)) {
    throw new ConfigError('ADMIN_EMAIL: ADMIN_EMAIL and ADMIN_PASSWORD must be set together');
  }

  const jwtSecret = v.JWT_SECRET ?? randomBytes(48).toString('base64url');
  const config: Config = {
    env: v.NODE_ENV,
    isProduction,
    port: v.PORT,
    host: v.HOST,
    logLevel: v.LOG_LEVEL ?? (v.NODE_ENV === 'test' ? 'silent' : 'info'),
    mongodbUri: v.MONGODB_URI,
    mongodBinary: v.MONGOD_BINARY,
    dbQueryTimeoutMs: v.DB_QUERY_TIMEOUT_MS,
    dataDir: path.resolve(v.DATA_DIR),
    shutdownTimeoutMs: v.SHUTDOWN_TIMEOUT_MS,
    shutdownDelayMs: v.SHUTDOWN_DELAY_MS,
    metrics: { port: v.METRICS_PORT, host: v.METRICS_HOST },
    tracing: v.OTEL_EXPORTER_OTLP_ENDPOINT
      ? {
          tracesUrl: `${v.OTEL_EXPORTER_OTLP_ENDPOINT.replace(/\/+$/, '')}/v1/traces`,
          serviceName: v.OTEL_SERVICE_NAME,
          sampler: v.OTEL_TRACES_SAMPLER,
          samplerRatio: v.OTEL_TRACES_SAMPLER_ARG ?? 1,
        }
      : undefined,
    jwt: {
      secret: jwtSecret,
      generated: v.JWT_SECRET === undefined,
      issuer: v.JWT_ISSUER,
      audience: v.JWT_AUDIENCE,
      accessTokenTtl: v.ACCESS_TOKEN_TTL,
      refreshTokenTtl: v.REFRESH_TOKEN_TTL,
      sessionIdleTimeout: v.SESSION_IDLE_TIMEOUT,
      refreshReuseInterval: v.REFRESH_REUSE_INTERVAL,
    },
    apiKeys: { pepper: v.API_KEY_PEPPER ?? derivedPepper(jwtSecret), requestsPerWindow: v.API_KEY_RATE_LIMIT },
    totp: { encryptionKey: v.TOTP_ENCRYPTION_KEY ?? derivedTotpKey(jwtSecret) },
    bcryptCost: v.BCRYPT_COST,
    bcryptMaxQueue: v.BCRYPT_MAX_QUEUE,
    login: { maxAttempts: v.LOGIN_MAX_ATTEMPTS, lockSeconds: v.LOGIN_LOCK_SECONDS },
    admin: v.ADMIN_EMAIL && v.ADMIN_PASSWORD ? { email: v.ADMIN_EMAIL, password: v.ADMIN_PASSWORD } : undefined,
    basicAuthCacheSeconds: v.BASIC_AUTH_CACHE_SECONDS,
    sessionCleanupIntervalSeconds: v.SESSION_CLEANUP_INTERVAL_SECONDS,
    auditRetentionDays: v.AUDIT_RETENTION_DAYS,
    account: {
      emailVerificationTtl: v.EMAIL_VERIFICATION_TTL,
      passwordResetTtl: v.PASSWORD_RESET_TTL,
      emailChangeTtl: v.EMAIL_CHANGE_TTL,
      requireEmailVerification: v.REQUIRE_EMAIL_VERIFICATION,
    },
    playground: v.PLAYGROUND ?? !isProduction,
    introspection: v.INTROSPECTION ?? !isProduction,
    trustedDocuments: v.TRUSTED_DOCUMENTS,
    http: {
      bodyLimit: v.BODY_LIMIT,
      corsOrigins: v.CORS_ORIGINS,
      trustProxy: parseTrustProxy(v.TRUST_PROXY),
      headersTimeoutMs: v.HEADERS_TIMEOUT_MS,
      requestTimeoutMs: v.REQUEST_TIMEOUT_MS,
      keepAliveTimeoutMs: v.KEEP_ALIVE_TIMEOUT_MS,
    },
    limits: {
      maxDepth: v.MAX_DEPTH,
      maxAliases: v.MAX_ALIASES,
      maxDirectives: v.MAX_DIRECTIVES,
      maxTokens: v.MAX_TOKENS,
      maxCost: v.MAX_COST,
    },
    rateLimit: {
      windowSeconds: v.RATE_LIMIT_WINDOW_SECONDS,
      perIp: v.RATE_LIMIT_PER_IP,
      perAccount: v.RATE_LIMIT_PER_ACCOUNT,
      readsPerUser: v.READ_RATE_LIMIT_PER_USER,
    },
    itemLimits: { writesPerWindow: v.WRITE_RATE_LIMIT_PER_USER, maxPerUser: v.MAX_ITEMS_PER_USER },
    realtime: {
      redisUrl: v.REDIS_URL,
      maxSubscriptions: v.WS_MAX_SUBSCRIPTIONS,
      maxConnectionsPerUser: v.WS_MAX_CONNECTIONS_PER_USER,
      maxMessageBytes: v.WS_MAX_MESSAGE_BYTES,
      maxBufferedBytes: v.WS_MAX_BUFFERED_BYTES,
      maxQueuedEvents: v.WS_MAX_QUEUED_EVENTS,
      connectionInitTimeoutMs: v.WS_CONNECTION_INIT_TIMEOUT_MS,
      maxUnauthenticatedPerIp: v.WS_MAX_UNAUTHENTICATED_PER_IP,
      maxUnauthenticated: v.WS_MAX_UNAUTHENTICATED,
      keepAliveMs: v.WS_KEEPALIVE_MS,
      authRecheckSeconds: v.WS_AUTH_RECHECK_SECONDS,
    },
    mail: mailConfig(v, mailTransport),
  };
  return deepFreeze(config);
}

/**
 * Without API_KEY_PEPPER, a pepper derived from the JWT secret (HKDF-SHA256, its own label), so a
 * development setup works and a JWT secret alone is never the stored keys' HMAC key. Rotating
 * JWT_SECRET then invalidates every API key: set API_KEY_PEPPER to keep them apart.
 */
function derivedPepper(jwtSecret: string): string {
  return Buffer.from(hkdfSync('sha256', jwtSecret, '', 'graphql-auth-items-api api-key pepper', 32)).toString(
    'base64url',
  );
}

/**
 * Without TOTP_ENCRYPTION_KEY, a key derived from the JWT secret (HKDF-SHA256, its own label), like
 * the API-key pepper. Rotating JWT_SECRET then makes every stored TOTP secret unreadable (those
 * users need an admin's resetUserTotp): set TOTP_ENCRYPTION_KEY to keep them apart.
 */
function derivedTotpKey(jwtSecret: string): string {
  return Buffer.from(hkdfSync('sha256', jwtSecret, '', 'graphql-auth-items-api totp encryption key', 32)).toString(
    'base64url',
  );
}

function mailConfig(v: z.infer<typeof schema>, transport: 'smtp' | 'log'): Config['mail'] {
  const publicUrl = (v.PUBLIC_URL ?? `http://localhost:${v.PORT}`).replace(/\/+$/, '');
  return {
    transport,
    smtpUrl: v.SMTP_URL,
    from: v.MAIL_FROM,
    maxAttempts: v.MAIL_MAX_ATTEMPTS,
    publicUrl,
    // The default pages are the self-hosted account pages (served where the playground is).
    links: {
      verifyEmail: v.VERIFY_EMAIL_URL ?? `${publicUrl}/account/verify-email?token={token}`,
      resetPassword: v.RESET_PASSWORD_URL ?? `${publicUrl}/account/reset-password?token={token}`,
      confirmEmailChange: v.CONFIRM_EMAIL_CHANGE_URL ?? `${publicUrl}/account/confirm-email?token={token}`,
    },
  };
}

function parseTrustProxy(value: string): boolean | number | string {
  if (value === 'true') return true;
  if (value === 'false') return false;
  if (/^\d+$/.test(value)) return Number(value);
  return value;
}

/** Returns a copy with the database URI filled in, e.g. once the embedded engine is up. */
export function withDatabaseUri(config: Config, mongodbUri: string): Config {
  return deepFreeze({ ...config, mongodbUri });
}

/** The variable names this module understands, for checks of Compose files and `.env.example`. */
export const KNOWN_VARIABLES: readonly string[] = [
  ...Object.keys(schema.shape),
  ...SECRET_VARIABLES.map((s) => `${s}_FILE`),
];

function deepFreeze<T extends object>(obj: T): T {
  for (const value of Object.values(obj)) {
    if (value && typeof value === 'object') deepFreeze(value as object);
  }
  return Object.freeze(obj);
}
