import { print } from '@apollo/client/utilities';
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { ItemEventsDocument } from '../../../schema/generated/graphql';
import { startTestServer, type TestServer } from '../../helpers/server';
import { hashOf } from '../../helpers/trusted-documents';

/**
 * Apollo Client's GraphQLWsLink always sends the document's text (Apollo's `print`), and with a
 * PersistedQueryLink in front also `extensions.persistedQuery.sha256Hash` (the manifest hash, as the
 * docs/clients.md tells clients to take it). Over HTTP the PersistedQueryLink drops the text; over the socket
 * it cannot, and Apollo's printing never matches the manifest's byte for byte: the hash decides what
 * runs. The subscribe message below is exactly what the link sends (graphql-ws directly, because on
 * Node 20 GraphQLWsLink itself throws "WebSocket is not defined" while reporting a GraphQL error).
 */
describe.each(['allow', 'only'])(
  'a subscription named by its manifest hash over graphql-ws (TRUSTED_DOCUMENTS=%s)',
  (mode) => {
    let api: TestServer;
    let ws: Client;

    beforeAll(async () => {
      api = await startTestServer({ TRUSTED_DOCUMENTS: mode });
    });
    afterAll(async () => {
      await ws?.dispose();
      await api.stop();
    });

    /** A manifest document over HTTP, named by its hash only. */
    async function send({ sha256Hash, variables, token }: { sha256Hash: string; variables: object; token?: string }) {
      const res = await fetch(`${api.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(token && { authorization: `Bearer ${token}` }) },
        body: JSON.stringify({ extensions: { persistedQuery: { version: 1, sha256Hash } }, variables }),
      });
      return (await res.json()) as { data?: Record<string, unknown>; errors?: unknown[] };
    }

    it("runs with the text Apollo's GraphQLWsLink sends beside the hash", async () => {
      // Registered through the manifest too (ad-hoc text is refused in `only` mode).
      const registered = await send({
        sha256Hash: hashOf('Register'),
        variables: {
          input: { email: `trusted-ws-${mode}-${Date.now()}@example.com`, password: 'Trusted-Horse-Battery-42' },
        },
      });
      const token = (registered.data as { register: { accessToken: string } }).register.accessToken;
      ws = createClient({
        url: `${api.url.replace(/^http/, 'ws')}/graphql`,
        webSocketImpl: WebSocket,
        connectionParams: { authorization: `Bearer ${token}` },
      });
      const errors: unknown[] = [];
      const events: unknown[] = [];
      let acknowledged = false;
      const stop = ws.subscribe(
        {
          query: print(ItemEventsDocument),
          operationName: 'ItemEvents',
          variables: {},
          extensions: { persistedQuery: { version: 1, sha256Hash: hashOf('ItemEvents') } },
        },
        { next: (e) => events.push(e), error: (e) => errors.push(e), complete: () => undefined },
      );
      ws.on('connected', () => (acknowledged = true));
      // Items created (by hash) until one's event arrives or the subscription is refused.
      for (let attempt = 0; attempt < 10 && events.length === 0 && errors.length === 0; attempt++) {
        await send({ sha256Hash: hashOf('CreateItem'), variables: { input: { name: `Trusted ${attempt}` } }, token });
        await new Promise((r) => setTimeout(r, 300));
      }
      stop();
      expect(acknowledged).toBe(true);
      expect(errors).toEqual([]);
      expect(events).toHaveLength(1);
    });

    it(mode === 'only' ? 'refuses ad-hoc text (TRUSTED_DOCUMENT_REQUIRED)' : 'runs ad-hoc text', async () => {
      const errors: Array<{ extensions?: { code?: string } }> = [];
      let done = false;
      const stop = ws.subscribe(
        { query: 'subscription { itemEvents { id } }' },
        {
          next: () => undefined,
          error: (e) => errors.push(...(e as typeof errors)),
          complete: () => (done = true),
        },
      );
      // `only`: wait for the refusal; `allow`: nothing comes back while the subscription is live.
      for (let waited = 0; waited < (mode === 'only' ? 10_000 : 500) && errors.length === 0; waited += 50)
        await new Promise((r) => setTimeout(r, 50));
      stop();
      if (mode === 'only') expect(errors.map((e) => e.extensions?.code)).toEqual(['TRUSTED_DOCUMENT_REQUIRED']);
      else expect({ errors, done }).toEqual({ errors: [], done: false });
    });
  },
);
