import { bearer } from './auth';
import type { GraphQLClient } from './graphql';
import type { Closed, RawClient } from './ws';

/** The operations the subscription tests share (the same shapes as test/integration/realtime/subscriptions.test.ts). */
export const EVENTS = `subscription($filter: ItemEventFilter) {
  itemEvents(filter: $filter) { type id version actorId item { id name version } }
}`;
export const CREATE = 'mutation($input: CreateItemInput!) { createItem(input: $input) { id version } }';
export const UPDATE =
  'mutation($id: ID!, $input: UpdateItemInput!) { updateItem(id: $id, input: $input) { id version } }';
export const DELETE = 'mutation($id: ID!) { deleteItem(id: $id) }';

export interface ItemEventData {
  itemEvents: {
    type: 'CREATED' | 'UPDATED' | 'DELETED';
    id: string;
    version: number;
    /** Shown to the item's owner and admins only, null to anyone else. */
    actorId: string | null;
    item: { id: string; name: string; version: number } | null;
  };
}

/** Polls `check` every `intervalMs` until it returns something other than undefined/false. */
export async function eventually<T>(
  check: () => Promise<T | undefined | false> | T | undefined | false,
  what: string,
  timeoutMs = 20_000,
  intervalMs = 100,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined && value !== false) return value;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline)
      throw new Error(`${what}: not within ${timeoutMs} ms${last ? ` (${(last as Error).message})` : ''}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** `/ready`'s answer: `events` is 'up' or 'down' when the instance uses Redis. */
export async function readiness(url: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${url}/ready`);
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

/**
 * Subscribes and waits until the server has registered the subscription: messages are handled
 * in order, so a pong after the subscribe message proves it.
 */
export async function subscribeItems(ws: RawClient, id: string, filter?: Record<string, unknown>): Promise<void> {
  ws.subscribe(id, EVENTS, filter ? { filter } : undefined);
  ws.send({ type: 'ping' });
  await ws.next('pong');
}

export async function createItem(
  client: GraphQLClient,
  token: string,
  input: Record<string, unknown>,
): Promise<{ id: string; version: number }> {
  const res = await client.gql<{ createItem: { id: string; version: number } }>(CREATE, { input }, bearer(token));
  if (res.status !== 200 || !res.body.data?.createItem)
    throw new Error(`createItem: ${res.status} ${JSON.stringify(res.body.errors)}`);
  return res.body.data.createItem;
}

export async function updateItem(
  client: GraphQLClient,
  token: string,
  id: string,
  input: Record<string, unknown>,
): Promise<{ id: string; version: number }> {
  const res = await client.gql<{ updateItem: { id: string; version: number } }>(UPDATE, { id, input }, bearer(token));
  if (res.status !== 200 || !res.body.data?.updateItem)
    throw new Error(`updateItem: ${res.status} ${JSON.stringify(res.body.errors)}`);
  return res.body.data.updateItem;
}

export async function deleteItem(client: GraphQLClient, token: string, id: string): Promise<void> {
  const res = await client.gql<{ deleteItem: string }>(DELETE, { id }, bearer(token));
  if (res.status !== 200 || res.body.data?.deleteItem !== id)
    throw new Error(`deleteItem: ${res.status} ${JSON.stringify(res.body.errors)}`);
}

/** Whether the socket has closed by now, without waiting. */
export async function closedYet(ws: RawClient): Promise<Closed | undefined> {
  return Promise.race([ws.closed, new Promise<undefined>((r) => setImmediate(() => r(undefined)))]);
}
