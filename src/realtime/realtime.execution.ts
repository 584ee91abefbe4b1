import { createSourceEventStream, execute, type DocumentNode, type ExecutionArgs, type ExecutionResult } from 'graphql';
import type { Context } from '../core/context';

/** The text each subscription's document was parsed from: identical texts share results. */
const texts = new WeakMap<DocumentNode, string>();

/** Per delivered event (the shared root object): results by operation, then by caller. */
const results = new WeakMap<object, Map<string, Map<string, Promise<ExecutionResult>>>>();

export function rememberText(document: DocumentNode, text: string): void {
  texts.set(document, text);
}

/**
 * What a result depends on: the operation (text, name, variables), fixed for a subscription, and
 * everything the permission rules and resolvers may read of the caller, which a re-check may
 * change. Subscribers that agree on both get the same result object.
 */
function operationKey(args: ExecutionArgs): string | undefined {
  const text = texts.get(args.document);
  if (text === undefined) return undefined;
  return `${args.operationName ?? ''}\0${JSON.stringify(args.variableValues ?? {})}\0${text}`;
}

function callerKey(args: ExecutionArgs): string | undefined {
  const user = (args.contextValue as Context).user;
  // An API key's scopes change what the rules allow (src/apikeys/apikey.rules.ts).
  return user
    ? `${user.id}\0${user.role}\0${String(user.emailVerified)}\0${user.apiKey?.scopes.join(',') ?? ''}`
    : undefined;
}

function executeShared(args: ExecutionArgs, operation: string | undefined, event: unknown): Promise<ExecutionResult> {
  const run = () => Promise.resolve(execute({ ...args, rootValue: event }));
  const caller = callerKey(args);
  if (operation === undefined || caller === undefined || typeof event !== 'object' || event === null) return run();
  let byOperation = results.get(event);
  if (!byOperation) results.set(event, (byOperation = new Map()));
  let byCaller = byOperation.get(operation);
  if (!byCaller) byOperation.set(operation, (byCaller = new Map()));
  let result = byCaller.get(caller);
  if (!result) byCaller.set(caller, (result = run()));
  return result;
}

/**
 * graphql-js's `subscribe`, except that each event is executed once per group of subscribers that
 * would get the same result (same document, variables and caller), not once per subscription: a
 * thousand sockets of a hundred users watching the same list cost a hundred executions per event.
 */
export async function subscribeShared(
  args: ExecutionArgs,
): Promise<AsyncIterableIterator<ExecutionResult> | ExecutionResult> {
  const source = await createSourceEventStream(args);
  if (!(Symbol.asyncIterator in source)) return source;
  const events = source[Symbol.asyncIterator]();
  // Computed once: the same string object for every event, so its hash is computed once too.
  const operation = operationKey(args);
  const mapped: AsyncIterableIterator<ExecutionResult> = {
    async next() {
      const next = await events.next();
      if (next.done) return { value: undefined, done: true };
      return { value: await executeShared(args, operation, next.value), done: false };
    },
    async return() {
      await events.return?.();
      return { value: undefined, done: true };
    },
    async throw(err: unknown) {
      await events.return?.();
      throw err;
    },
    [Symbol.asyncIterator]() {
      return mapped;
    },
  };
  return mapped;
}
