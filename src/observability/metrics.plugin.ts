import { readFileSync } from 'node:fs';
import type { ApolloServerPlugin } from '@apollo/server';
import { Kind, parse, type GraphQLError } from 'graphql';
import type { Context } from '../core/context';
import { ERROR_CODES, isQueryTimeout } from '../core/errors';
import type { Metrics } from './metrics.registry';

/**
 * The operation names of the committed documents (schema/operations, as codegen wrote them into
 * the persisted-documents manifest). Only these become an `operation` label: any other name is
 * chosen by the client, and would let it create a time series per request.
 */
export function committedOperationNames(manifestFile: string): ReadonlySet<string> {
  const manifest = JSON.parse(readFileSync(manifestFile, 'utf8')) as Record<string, string>;
  const names = new Set<string>();
  for (const text of Object.values(manifest))
    for (const def of parse(text).definitions)
      if (def.kind === Kind.OPERATION_DEFINITION && def.name) names.add(def.name.value);
  return names;
}

/** Codes are ours or Apollo's, but an unexpected error may carry anything: keep the label bounded. */
const CODE = /^[A-Z][A-Z0-9_]{0,63}$/;

/** `graphql_errors_total` labels known in advance (metrics start each at zero); OTHER for a malformed code. */
export const ERROR_CODE_LABELS: readonly string[] = [...ERROR_CODES, 'OTHER'];

function codeOf(err: GraphQLError): string {
  // As the client is shown it (see publicError): the driver's error carries no code of ours.
  if (isQueryTimeout(err)) return 'SERVICE_UNAVAILABLE';
  const code = err.extensions?.code;
  if (code === undefined) return 'INTERNAL_SERVER_ERROR';
  return typeof code === 'string' && CODE.test(code) ? code : 'OTHER';
}

/**
 * Times every GraphQL operation over HTTP and counts its errors. `outcome` is `success` (no
 * errors), `partial` (errors beside data) or `error` (no data); `type` is `unknown` when the
 * document never resolved to an operation (parse or validation failure).
 */
export function metricsPlugin(metrics: Metrics, committed: ReadonlySet<string>): ApolloServerPlugin<Context> {
  const { operationDuration, graphqlErrors } = metrics;
  return {
    async requestDidStart() {
      const started = performance.now();
      return {
        async didEncounterErrors({ errors }) {
          for (const err of errors) graphqlErrors.inc({ code: codeOf(err) });
        },
        async willSendResponse({ response, operation, operationName, errors }) {
          const body = response.body;
          const data = body.kind === 'single' ? body.singleResult.data : undefined;
          const outcome = !errors?.length ? 'success' : data ? 'partial' : 'error';
          const name = operation?.name?.value ?? operationName;
          operationDuration.observe(
            {
              operation: name && committed.has(name) ? name : 'other',
              type: operation?.operation ?? 'unknown',
              outcome,
            },
            (performance.now() - started) / 1000,
          );
        },
      };
    },
  };
}
