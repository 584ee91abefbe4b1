import { isSpanContextValid, trace } from '@opentelemetry/api';
import pino, { type Logger } from 'pino';
import type { Config } from './config';

export type { Logger };

/**
 * Paths that must never reach a log line: credentials in headers and any password or token
 * that ends up in a logged object (GraphQL variables, error details).
 */
export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["proxy-authorization"]',
  'res.headers["set-cookie"]',
  'password',
  'newPassword',
  'currentPassword',
  'refreshToken',
  'accessToken',
  'token',
  '*.password',
  '*.newPassword',
  '*.currentPassword',
  '*.refreshToken',
  '*.refresh_token',
  '*.accessToken',
  '*.access_token',
  '*.token',
  '*.authorization',
  'variables.*.password',
  'variables.*.newPassword',
  // Second factors: a code (login input, resetPassword, the OAuth form), recovery codes, a TOTP secret.
  'totpCode',
  'recoveryCodes',
  'secret',
  '*.totpCode',
  '*.totp_code',
  '*.recoveryCodes',
  '*.secret',
  'variables.*.totpCode',
  // An emailed sign-in code (reauthenticate's input.emailCode; signInWithCode's $code is variables.code).
  'emailCode',
  '*.emailCode',
  'variables.*.emailCode',
  // Not `*.code`: errors carry a `code` (ECONNREFUSED, extensions.code) that logs must keep.
  'variables.code',
];

/**
 * The active span's ids on every log line written inside a traced request, so a log search and a
 * trace viewer meet. Reads the span through @opentelemetry/api (no SDK); with tracing off it is not installed.
 */
function traceIds(): Record<string, string> {
  const context = trace.getActiveSpan()?.spanContext();
  if (!context || !isSpanContextValid(context)) return {};
  return {
    trace_id: context.traceId,
    span_id: context.spanId,
    trace_flags: `0${context.traceFlags.toString(16)}`.slice(-2),
  };
}

export function createLogger(config: Pick<Config, 'logLevel' | 'env'> & Partial<Pick<Config, 'tracing'>>): Logger {
  const pretty = config.env === 'development';
  return pino({
    level: config.logLevel,
    ...(config.tracing ? { mixin: traceIds } : {}),
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    base: { service: 'graphql-auth-items-api' },
    // Readable lines for people in development; JSON (one object a line) everywhere else.
    ...(pretty
      ? {
          transport: {
            target: 'pino-pretty',
            options: { colorize: true, translateTime: 'SYS:HH:MM:ss', ignore: 'pid,hostname,service' },
          },
        }
      : {}),
  });
}
