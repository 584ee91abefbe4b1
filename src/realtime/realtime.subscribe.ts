import type { Request } from 'express';
import {
  getOperationAST,
  GraphQLError,
  parse,
  specifiedRules,
  validate,
  type DocumentNode,
  type ExecutionArgs,
  type ExecutionResult,
  type GraphQLFormattedError,
  type GraphQLSchema,
  type ValidationRule,
} from 'graphql';
import type { ServerOptions } from 'graphql-ws';
import type { Config } from '../core/config';
import type { Context } from '../core/context';
import { costRefusal } from '../http/complexity';
import type { DocumentChecks } from '../http/document-checks';
import { formatError } from '../http/format-error';
import type { ContextFactory } from '../http/graphql-context';
import type { ItemEventFeed } from './realtime.feed';
import { rememberText, subscribeShared } from './realtime.execution';
import { slowConsumer, type SocketContext, type SocketExtra } from './realtime.socket';
import { bindToSocket, subscriptionLimit } from './realtime.stream';

type Payload = Record<string, unknown>;

export interface SubscribeDeps {
  config: Config;
  schema: GraphQLSchema;
  documents: DocumentChecks;
  /** The same graphql-armor rules HTTP requests are validated with (depth, aliases, directives). */
  validationRules: readonly ValidationRule[];
  buildContext: ContextFactory;
  feed: ItemEventFeed;
}

function clientError(code: string, message: string): GraphQLError {
  return new GraphQLError(message, { extensions: { code } });
}

/** Validation as Apollo does it over HTTP, then the operation it names, which must be a subscription. */
function operationOf(
  deps: SubscribeDeps,
  rules: readonly ValidationRule[],
  document: DocumentNode,
  payload: Payload,
): ExecutionArgs | readonly GraphQLError[] {
  const { schema } = deps;
  const invalid = validate(schema, document, rules);
  if (invalid.length > 0)
    return invalid.map(
      (e) => new GraphQLError(e.message, { nodes: e.nodes, extensions: { code: 'GRAPHQL_VALIDATION_FAILED' } }),
    );
  const operationName = typeof payload.operationName === 'string' ? payload.operationName : undefined;
  const operation = getOperationAST(document, operationName);
  if (!operation) return [clientError('OPERATION_RESOLUTION_FAILURE', 'Unable to identify the operation')];
  if (operation.operation !== 'subscription')
    return [clientError('BAD_REQUEST', 'Only subscriptions run over WebSocket: send queries and mutations over HTTP')];
  const variables = (payload.variables ?? {}) as Record<string, unknown>;
  const tooCostly = costRefusal(schema, document, operation, variables, deps.config.limits.maxCost);
  if (tooCostly) return [tooCostly];
  return { schema, document, operationName, variableValues: variables };
}

/** The checks of an HTTP request, in the same order, for one subscribe message. */
function prepare(
  deps: SubscribeDeps,
  rules: readonly ValidationRule[],
  ctx: SocketContext,
  payload: Payload,
): ExecutionArgs | readonly GraphQLError[] {
  const { connection } = ctx.extra;
  if (!connection || connection.closed) return [clientError('UNAUTHENTICATED', 'The connection is closing')];
  const { maxSubscriptions } = deps.config.realtime;
  // Checked again where the stream starts (realtime.stream.ts); here it spares the parsing.
  if (Object.keys(ctx.subscriptions).length > maxSubscriptions) return [subscriptionLimit(maxSubscriptions)];
  const checked = deps.documents(payload, 'websocket');
  if ('refused' in checked) return [clientError(checked.refused.code, checked.refused.message)];
  // Over WebSocket the checks refuse a message without text: there is some.
  const text = checked.query!;
  let document: DocumentNode;
  try {
    document = parse(text);
  } catch (err) {
    return [clientError('GRAPHQL_PARSE_FAILED', err instanceof Error ? err.message : 'Syntax error')];
  }
  const args = operationOf(deps, rules, document, payload);
  if ('document' in args) rememberText(document, text);
  return args;
}

/** One subscription's context: the connection is its caller, so rules see a role change at once. */
function subscriptionContext(deps: SubscribeDeps, ctx: SocketContext, id: string): Context {
  const { extra } = ctx;
  const connection = extra.connection!;
  // The upgrade request stands in for the request: subscription resolvers read nothing of it.
  const context = deps.buildContext(connection, { req: extra.request as Request, requestId: `ws:${id}` });
  const limits = deps.config.realtime;
  bindToSocket(context, {
    feed: deps.feed,
    connection,
    maxQueuedEvents: limits.maxQueuedEvents,
    maxSubscriptions: limits.maxSubscriptions,
    slowConsumer: () => slowConsumer(extra),
  });
  return context;
}

/**
 * graphql-ws's handling of subscribe messages: the document checks and limits of HTTP, one
 * context per subscription, execution shared between subscribers (realtime.execution.ts), and
 * errors formatted as over HTTP.
 */
export function subscriptionHandling(
  deps: SubscribeDeps,
): Pick<ServerOptions<Payload, SocketExtra>, 'subscribe' | 'onSubscribe' | 'context' | 'onNext' | 'onError'> {
  const rules = [...specifiedRules, ...deps.validationRules];
  const format = formatError(deps.config);
  const formatted = (errors: readonly GraphQLError[]): GraphQLFormattedError[] =>
    errors.map((err) => format(err.toJSON(), err));
  return {
    subscribe: subscribeShared,
    onSubscribe: (ctx, _id, payload) => prepare(deps, rules, ctx, payload as unknown as Payload),
    context: (ctx, id) => subscriptionContext(deps, ctx, id),
    onNext: (_ctx, _id, _payload, _args, result: ExecutionResult) =>
      result.errors ? { ...result, errors: formatted(result.errors) } : undefined,
    onError: (_ctx, _id, _payload, errors) => formatted(errors),
  };
}
