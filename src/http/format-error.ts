import type { ApolloServerPlugin } from '@apollo/server';
import { unwrapResolverError } from '@apollo/server/errors';
import { GraphQLError, type GraphQLFormattedError } from 'graphql';
import type { Context } from '../core/context';
import type { Config } from '../core/config';
import {
  DATABASE_UNAVAILABLE_MESSAGE,
  InternalServerError,
  isDatabaseUnavailable,
  isQueryTimeout,
  QueryTimeoutError,
  RETRY_STATUS,
  CLIENT_CODES,
} from '../core/errors';

/**
 * The error a client is shown for `err` (unwrapped from a resolver): a read past its time limit
 * (MaxTimeMSExpired, wherever it happened) becomes QueryTimeoutError, SERVICE_UNAVAILABLE; any
 * other error stays as it is.
 */
export function publicError(err: unknown): unknown {
  return isQueryTimeout(err) ? new QueryTimeoutError() : unwrapResolverError(err);
}

export function isClientError(err: unknown): boolean {
  const original = publicError(err);
  if (!(original instanceof GraphQLError)) return false;
  const code = original.extensions?.code;
  // A GraphQLError without a code is graphql-js's own (e.g. variable coercion): client input.
  return code === undefined || (typeof code === 'string' && CLIENT_CODES.has(code));
}

/**
 * graphql-js ends many messages with a hint built from the schema ("Did you mean "first"?",
 * "Did you mean the enum value "ADMIN"?", "Did you mean to use an inline fragment on …?"),
 * for fields, arguments, types, input fields and enum values, in literals and in variables. It
 * reveals schema names that introspection would hide, so the hint is cut, from its first word to
 * the end of the line, in every mode (graphql-armor's mask only knew the quoted-name form).
 */
const SUGGESTION = /[ \t]*Did you mean\b[^\n]*/gi;

export function maskSuggestions(formatted: GraphQLFormattedError): GraphQLFormattedError {
  const stacktrace = formatted.extensions?.stacktrace;
  return {
    ...formatted,
    message: formatted.message.replace(SUGGESTION, ''),
    ...(Array.isArray(stacktrace) && {
      extensions: {
        ...formatted.extensions,
        stacktrace: stacktrace.map((line: unknown) => String(line).replace(SUGGESTION, '')),
      },
    }),
  };
}

/**
 * graphql-js reports a variable it cannot coerce as `Variable "$i" got invalid value 1.5 at
 * "i.quantity"; Int cannot represent non-integer value: 1.5` (a missing or unknown input field
 * as `…; Field "name" of required type "String!" was not provided.`). The path inside the
 * variable (`quantity`, `tags.2`) becomes `field` and `fields`, as for the resolvers' own
 * BAD_USER_INPUT. A value is printed with its quotes escaped, so `at "` only starts the path.
 */
const AT_PATH = /^Variable "\$(\w+)" got invalid value [\s\S]*? at "\1((?:\.\w+|\[\d+\])+)"; ([\s\S]*)$/;
const NO_PATH =
  /^Variable "\$\w+" got invalid value [\s\S]*?; (Field "\w+" (?:of required type|is not defined by type)[\s\S]*)$/;
const NAMED_FIELD = /^Field "(\w+)" (?:of required type|is not defined by type)/;

export function withVariableField(formatted: GraphQLFormattedError): GraphQLFormattedError {
  if (formatted.extensions?.field !== undefined) return formatted;
  const atPath = AT_PATH.exec(formatted.message);
  const problem = atPath ? atPath[3]! : NO_PATH.exec(formatted.message)?.[1];
  // The whole variable is wrong (`$id` got 1.5, or a required variable is missing): no field to name.
  if (problem === undefined) return formatted;
  const segments: string[] = atPath?.[2]!.match(/\w+/g) ?? [];
  const named = NAMED_FIELD.exec(problem);
  if (named) segments.push(named[1]!);
  return {
    ...formatted,
    extensions: {
      ...formatted.extensions,
      field: segments[0],
      fields: [{ field: segments.join('.'), message: problem }],
    },
  };
}

/**
 * Unexpected errors become a generic INTERNAL_SERVER_ERROR in production, so no collection,
 * index, driver or file name reaches a client. The full error is logged by the plugin below.
 */
export function formatError(config: Pick<Config, 'isProduction'>) {
  return (unmasked: GraphQLFormattedError, error: unknown): GraphQLFormattedError => {
    const formatted = maskSuggestions(unmasked);
    const shown = publicError(error);
    if (shown instanceof QueryTimeoutError) {
      // The driver's message names the command; the client gets ours, as for other client errors.
      const { message, extensions } = shown;
      return { message, locations: formatted.locations, path: formatted.path, extensions: { ...extensions } };
    }
    if (isClientError(error)) {
      const named = withVariableField(formatted);
      if (!config.isProduction) return named;
      const { stacktrace: _omit, ...extensions } = named.extensions ?? {};
      return { ...named, extensions };
    }
    const original = unwrapResolverError(error);
    // Our own InternalServerError messages are written for clients; driver errors never are.
    const message =
      original instanceof InternalServerError
        ? original.message
        : isDatabaseUnavailable(original)
          ? DATABASE_UNAVAILABLE_MESSAGE
          : undefined;
    if (message) {
      return {
        message,
        locations: formatted.locations,
        path: formatted.path,
        extensions: { code: 'INTERNAL_SERVER_ERROR' },
      };
    }
    if (!config.isProduction) {
      return { ...formatted, extensions: { ...formatted.extensions, code: 'INTERNAL_SERVER_ERROR' } };
    }
    return {
      message: 'Internal server error',
      locations: formatted.locations,
      path: formatted.path,
      extensions: { code: 'INTERNAL_SERVER_ERROR' },
    };
  };
}

/** Logs every unexpected error once, with the request id (from the request's child logger). */
export function errorLoggingPlugin(): ApolloServerPlugin<Context> {
  return {
    async requestDidStart() {
      return {
        async didEncounterErrors({ errors, contextValue }) {
          for (const err of errors) {
            // Logged, but not as a failure of ours: which reads run past the limit, and where.
            if (isQueryTimeout(err)) {
              contextValue.logger?.warn({ err: unwrapResolverError(err), path: err.path }, 'database read timed out');
              continue;
            }
            if (isClientError(err)) continue;
            contextValue.logger?.error({ err: unwrapResolverError(err), path: err.path }, 'unexpected GraphQL error');
          }
        },
      };
    },
  };
}

/**
 * A TOO_MANY_REQUESTS or SERVICE_UNAVAILABLE error also sets the HTTP `Retry-After` header, as
 * HTTP clients expect, and the status 429 or 503 when nothing of the operation could be answered
 * (no partial data to deliver).
 */
export function retryAfterPlugin(): ApolloServerPlugin<Context> {
  return {
    async requestDidStart() {
      return {
        async willSendResponse({ response, errors }) {
          const retryable = (errors ?? [])
            .map((e) => publicError(e))
            .filter((e): e is GraphQLError => e instanceof GraphQLError && String(e.extensions?.code) in RETRY_STATUS);
          if (!retryable.length) return;
          const seconds = retryable.map((e) => Number(e.extensions.retryAfter) || 1);
          response.http.headers.set('retry-after', String(Math.max(...seconds)));
          const body = response.body;
          if (body.kind === 'single' && (body.singleResult.data === null || body.singleResult.data === undefined))
            response.http.status = RETRY_STATUS[String(retryable[0]!.extensions.code)]!;
        },
      };
    },
  };
}
