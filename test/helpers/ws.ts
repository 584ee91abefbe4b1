import type { IncomingHttpHeaders } from 'node:http';
import WebSocket from 'ws';

/** A message of the graphql-transport-ws protocol, as the server sent it. */
export interface WsMessage {
  type: string;
  id?: string;
  payload?: unknown;
}

export interface Closed {
  code: number;
  reason: string;
}

/**
 * A raw graphql-ws client (the `ws` package speaking graphql-transport-ws by hand), so tests see
 * exactly which frames and close codes the server sends.
 */
export interface RawClient {
  socket: WebSocket;
  /** Resolves when the socket closes, with the server's code and reason. */
  closed: Promise<Closed>;
  send(message: Record<string, unknown>): void;
  /** The next message of `type` (any type if omitted); others received before it are kept. */
  next(type?: string, timeoutMs?: number): Promise<WsMessage>;
  /** The next message that `match` accepts; others are kept. */
  nextWhere(match: (m: WsMessage) => boolean, timeoutMs?: number, what?: string): Promise<WsMessage>;
  /** connection_init and the server's answer: ack, or the close. */
  init(payload?: Record<string, unknown>): Promise<WsMessage | Closed>;
  subscribe(id: string, query: string, variables?: Record<string, unknown>): void;
  /** The next `next` payload's data for subscription `id`. */
  event<T = Record<string, unknown>>(id: string, timeoutMs?: number): Promise<{ data?: T; errors?: unknown[] }>;
  close(): void;
}

export function wsUrl(httpUrl: string): string {
  return `${httpUrl.replace(/^http/, 'ws')}/graphql`;
}

export interface OpenOptions {
  origin?: string;
  protocol?: string;
  /** More upgrade request headers (e.g. X-Forwarded-For behind a trusted proxy). */
  headers?: Record<string, string>;
}

/** An upgrade the server answered with plain HTTP instead of switching protocols. */
export interface Refused {
  status: number;
  headers: IncomingHttpHeaders;
}

export async function openRaw(url: string, options: OpenOptions = {}): Promise<RawClient> {
  const opened = await tryOpen(url, options);
  if ('status' in opened) throw new Error(`upgrade refused: ${opened.status}`);
  return opened;
}

/** Opens a socket, or resolves with the server's HTTP answer when it refuses the upgrade. */
export function tryOpen(
  url: string,
  { origin, protocol = 'graphql-transport-ws', headers = {} }: OpenOptions = {},
): Promise<RawClient | Refused> {
  const socket = new WebSocket(url, protocol, { headers: { ...headers, ...(origin ? { origin } : {}) } });
  const inbox: WsMessage[] = [];
  const waiters: Array<() => void> = [];
  let closedWith: Closed | undefined;
  const closed = new Promise<Closed>((resolve) =>
    socket.once('close', (code, reason) => {
      closedWith = { code, reason: reason.toString() };
      resolve(closedWith);
      for (const w of waiters.splice(0)) w();
    }),
  );
  socket.on('message', (data) => {
    inbox.push(JSON.parse(data.toString()) as WsMessage);
    for (const w of waiters.splice(0)) w();
  });
  const client: RawClient = {
    socket,
    closed,
    send: (message) => socket.send(JSON.stringify(message)),
    next: (type, timeoutMs) => client.nextWhere((m) => type === undefined || m.type === type, timeoutMs, type),
    async nextWhere(match, timeoutMs = 10_000, what = 'matching') {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const index = inbox.findIndex(match);
        if (index >= 0) return inbox.splice(index, 1)[0]!;
        if (closedWith)
          throw new Error(`socket closed (${closedWith.code} ${closedWith.reason}) before a ${what} message`);
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`no ${what} message within ${timeoutMs} ms`);
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, left);
          waiters.push(() => {
            clearTimeout(timer);
            resolve();
          });
        });
      }
    },
    async init(payload) {
      client.send({ type: 'connection_init', ...(payload ? { payload } : {}) });
      return Promise.race([client.next('connection_ack'), closed]);
    },
    subscribe(id, query, variables) {
      client.send({ type: 'subscribe', id, payload: { query, ...(variables ? { variables } : {}) } });
    },
    async event<T>(id: string, timeoutMs?: number) {
      const message = await client.nextWhere((m) => m.id === id, timeoutMs, `subscription ${id}`);
      if (message.type === 'next') return message.payload as { data?: T; errors?: unknown[] };
      if (message.type === 'error') return { errors: message.payload as unknown[] };
      throw new Error(`subscription ${id} ended (${message.type}) without an event`);
    },
    close: () => socket.close(),
  };
  return new Promise((resolve, reject) => {
    socket.once('open', () => resolve(client));
    socket.once('unexpected-response', (_req, res) => {
      res.resume();
      resolve({ status: res.statusCode ?? 0, headers: res.headers });
    });
    socket.once('error', reject);
  });
}

/** Opens a socket and signs in with `authorization`; fails unless the server acknowledges. */
export async function connectWs(httpUrl: string, authorization: string): Promise<RawClient> {
  const client = await openRaw(wsUrl(httpUrl));
  const answer = await client.init({ authorization });
  if (!('type' in answer)) throw new Error(`connection refused: ${answer.code} ${answer.reason}`);
  return client;
}
