import { ApolloClient, CombinedGraphQLErrors, HttpLink, InMemoryCache, ServerError } from '@apollo/client';
import WebSocket from 'ws';
import { conflictCurrent, createApiClient, errorReason, signedIn, type Tokens } from '../../../examples/apollo-client';
import {
  CreateItemDocument,
  ItemDocument,
  ItemEventsDocument,
  ItemsDocument,
  LoginDocument,
  LogoutAllDocument,
  MeDocument,
  UpdateItemDocument,
  type ItemEventsSubscription,
  type ItemsQuery,
} from '../../../schema/generated/graphql';
import { signUp } from '../../helpers/auth';
import { startTestServer, type TestServer } from '../../helpers/server';

/**
 * The Apollo Client recipe (examples/apollo-client.ts, shown verbatim in docs/clients.md) against
 * the live server with two-second access tokens.
 */
describe('the documented Apollo Client recipe', () => {
  let api: TestServer;
  const clients: ApolloClient[] = [];
  beforeAll(async () => {
    api = await startTestServer({ ACCESS_TOKEN_TTL: '2' });
  });
  afterAll(async () => {
    for (const client of clients) client.stop();
    await api.stop();
  });

  const expire = () => new Promise((r) => setTimeout(r, 2200));

  /** A fetch that records the operation name of every request, so the test can count refreshes. */
  function countingFetch(wrapped: typeof fetch = fetch) {
    const sent: string[] = [];
    const counted: typeof fetch = (input, init) => {
      sent.push((JSON.parse(String(init?.body)) as { operationName: string }).operationName);
      return wrapped(input, init);
    };
    return { sent, fetch: counted, refreshes: () => sent.filter((name) => name === 'RefreshToken').length };
  }

  /** A user signed in through the recipe's client, plus some items of theirs. */
  async function signedInClient(opts: { cookieMode?: boolean; fetch?: typeof fetch } = {}) {
    const user = await signUp(api);
    const tokens: Tokens = { accessToken: null, refreshToken: null };
    const signedOut: unknown[] = [];
    const counter = countingFetch(opts.fetch);
    const client = createApiClient({
      uri: `${api.url}/graphql`,
      // Node 20 has no global WebSocket (22 has).
      webSocketImpl: WebSocket,
      tokens,
      cookieMode: opts.cookieMode,
      fetch: counter.fetch,
      onSignedOut: (error) => signedOut.push(error),
    });
    clients.push(client);
    const { data } = await client.mutate({
      mutation: LoginDocument,
      variables: { input: { email: user.email, password: user.password, useCookie: opts.cookieMode } },
    });
    signedIn(tokens, data!.login);
    return { user, tokens, client, signedOut, counter };
  }

  async function createItems(client: ApolloClient, count: number, tag: string): Promise<string[]> {
    const ids: string[] = [];
    for (let i = 0; i < count; i++) {
      const { data } = await client.mutate({
        mutation: CreateItemDocument,
        variables: { input: { name: `${tag} ${String(i).padStart(2, '0')}`, tags: [tag], quantity: i } },
      });
      ids.push(data!.createItem.id);
    }
    return ids;
  }

  /** Five different queries at once (different ids, so Apollo does not deduplicate them). */
  const fiveAtOnce = (client: ApolloClient, ids: string[]) =>
    Promise.allSettled(
      ids
        .slice(0, 5)
        .map((id) => client.query({ query: ItemDocument, variables: { id }, fetchPolicy: 'network-only' })),
    );

  type ItemEvent = ItemEventsSubscription['itemEvents'];

  /** ItemEvents of the caller's own items through the recipe's client, collected as they arrive. */
  function listen(client: ApolloClient) {
    const events: ItemEvent[] = [];
    const errors: unknown[] = [];
    let wake = () => undefined as void;
    const subscription = client
      .subscribe({ query: ItemEventsDocument, variables: { filter: { mine: true } } })
      .subscribe({
        next: (result) => {
          if (result.error) errors.push(result.error);
          if (result.data) events.push(result.data.itemEvents);
          wake();
        },
        error: (error: unknown) => {
          errors.push(error);
          wake();
        },
      });
    const until = (done: () => boolean, ms: number) =>
      new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => resolve(done()), ms);
        wake = () => {
          if (!done()) return;
          clearTimeout(timer);
          resolve(true);
        };
        wake();
      });
    return {
      events,
      errors,
      until,
      /**
       * Creates items until one's CREATED event arrives (the subscription is registered on the
       * server some time after subscribe() returns) and returns that event.
       */
      async createdFor(tag: string): Promise<ItemEvent> {
        for (let attempt = 0; attempt < 20; attempt++) {
          const [id] = await createItems(client, 1, `${tag} ${attempt}`);
          if (await until(() => events.some((e) => e.id === id), 500)) return events.find((e) => e.id === id)!;
        }
        throw new Error(`no CREATED event arrived; errors: ${String(errors)}`);
      },
      stop: () => subscription.unsubscribe(),
    };
  }

  it('runs subscriptions over graphql-ws with the access token, and queries and mutations over HTTP', async () => {
    const { client, user, counter } = await signedInClient();
    const feed = listen(client);
    try {
      const event = await feed.createdFor('live');
      // Typed by codegen: ItemEventType, and the ItemFields of the item.
      const type: 'CREATED' | 'UPDATED' | 'DELETED' = event.type;
      expect(type).toBe('CREATED');
      expect(event).toMatchObject({ __typename: 'ItemEvent', version: 1, actorId: user.user.id });
      expect(event.item).toMatchObject({ __typename: 'Item', id: event.id, version: 1, owner: { id: user.user.id } });
      expect(feed.errors).toEqual([]);
      // The split: CreateItem went over HTTP, the subscription did not.
      expect(counter.sent).toContain('CreateItem');
      expect(counter.sent).not.toContain('ItemEvents');
    } finally {
      feed.stop();
    }
  });

  it('a socket closed with 4401 TOKEN_EXPIRED ends that subscription; the next one renews the token first', async () => {
    const { client, tokens, counter, signedOut } = await signedInClient();
    const first = listen(client);
    try {
      await first.createdFor('before expiry');
      const expired = tokens.accessToken;
      // The server closes the socket when the token it was opened with expires (2 s).
      expect(await first.until(() => first.errors.length > 0, 5000)).toBe(true);
      expect(String(first.errors[0])).toContain('4401 TOKEN_EXPIRED');
      // Nothing was sent over HTTP meanwhile: the socket's token is still the app's.
      expect(tokens.accessToken).toBe(expired);
    } finally {
      first.stop();
    }
    const before = counter.refreshes();
    const second = listen(client);
    try {
      const event = await second.createdFor('after expiry');
      expect(event.type).toBe('CREATED');
      expect(counter.refreshes() - before).toBe(1);
      expect(second.errors).toEqual([]);
      expect(signedOut).toEqual([]);
    } finally {
      second.stop();
    }
  });

  it('after the access token expires, 5 concurrent queries all succeed with one refresh', async () => {
    const { client, tokens, counter, signedOut } = await signedInClient();
    const ids = await createItems(client, 5, 'flight');
    const firstRefresh = tokens.refreshToken;
    await expire();
    const before = counter.refreshes();
    const results = await fiveAtOnce(client, ids);
    expect(results.map((r) => (r.status === 'fulfilled' ? r.value.data?.item?.id : r.reason))).toEqual(ids);
    expect(counter.refreshes() - before).toBe(1);
    // Each query went out twice (expired, then retried) and the refresh once.
    expect(counter.sent.slice(-11).filter((name) => name === 'Item')).toHaveLength(10);
    expect(tokens.refreshToken).not.toBe(firstRefresh);
    expect(signedOut).toEqual([]);
  });

  it('surfaces an expired token with reason TOKEN_EXPIRED whichever way Apollo Client reports the 401', async () => {
    const { tokens } = await signedInClient();
    const expired = tokens.accessToken!;
    await expire();
    const plain = (accept?: string) => {
      const client = new ApolloClient({
        link: new HttpLink({
          uri: `${api.url}/graphql`,
          headers: { authorization: `Bearer ${expired}`, ...(accept ? { accept } : {}) },
        }),
        cache: new InMemoryCache(),
      });
      clients.push(client);
      return client.query({ query: MeDocument }).then(
        () => undefined,
        (error: unknown) => error,
      );
    };
    // Apollo Client 4 asks for application/graphql-response+json, so the 401's errors are parsed...
    const parsed = await plain();
    expect(CombinedGraphQLErrors.is(parsed)).toBe(true);
    expect(errorReason(parsed)).toBe('TOKEN_EXPIRED');
    // ...while a plain application/json 401 is a ServerError with the body; errorReason reads both.
    const server = await plain('application/json');
    expect(ServerError.is(server)).toBe(true);
    expect((server as ServerError).statusCode).toBe(401);
    expect(errorReason(server)).toBe('TOKEN_EXPIRED');
  });

  it('a refused refresh signs out once and fails every waiting operation with REFRESH_TOKEN_INVALID', async () => {
    const { client, tokens, counter, signedOut } = await signedInClient();
    const ids = await createItems(client, 5, 'revoked');
    await client.mutate({ mutation: LogoutAllDocument });
    await expire();
    const before = counter.refreshes();
    const results = await fiveAtOnce(client, ids);
    expect(results.map((r) => r.status)).toEqual(Array(5).fill('rejected'));
    expect(results.map((r) => errorReason((r as PromiseRejectedResult).reason))).toEqual(
      Array(5).fill('REFRESH_TOKEN_INVALID'),
    );
    expect(counter.refreshes() - before).toBe(1);
    expect(signedOut).toHaveLength(1);
    expect(errorReason(signedOut[0])).toBe('REFRESH_TOKEN_INVALID');
    expect(tokens).toEqual({ accessToken: null, refreshToken: null });
  });

  it('cookie mode: refreshes from the __Host-refresh_token cookie, no refresh token in JS', async () => {
    // A minimal cookie jar and the Origin a browser would send from the server's own page.
    const jar = new Map<string, string>();
    const bodies: string[] = [];
    const browserish: typeof fetch = async (input, init) => {
      const headers = new Headers(init?.headers);
      headers.set('origin', api.url);
      if (jar.size) headers.set('cookie', [...jar].map(([k, v]) => `${k}=${v}`).join('; '));
      bodies.push(String(init?.body));
      const res = await fetch(input, { ...init, headers });
      for (const cookie of res.headers.getSetCookie()) {
        const [pair] = cookie.split(';');
        const at = pair!.indexOf('=');
        jar.set(pair!.slice(0, at), pair!.slice(at + 1));
      }
      return res;
    };
    const { client, tokens, counter, signedOut } = await signedInClient({ cookieMode: true, fetch: browserish });
    expect(tokens.refreshToken).toBeNull();
    const firstCookie = jar.get('__Host-refresh_token');
    expect(firstCookie).toBeTruthy();
    const ids = await createItems(client, 5, 'cookie');
    await expire();
    const before = counter.refreshes();
    const results = await fiveAtOnce(client, ids);
    expect(results.map((r) => (r.status === 'fulfilled' ? r.value.data?.item?.id : r.reason))).toEqual(ids);
    expect(counter.refreshes() - before).toBe(1);
    // The refresh sent no token of its own: the cookie did, and it rotated.
    const refresh = bodies.map((b) => JSON.parse(b) as { operationName: string; variables: object });
    expect(refresh.find((b) => b.operationName === 'RefreshToken')?.variables).toEqual({});
    expect(jar.get('__Host-refresh_token')).not.toBe(firstCookie);
    expect(tokens.refreshToken).toBeNull();
    expect(signedOut).toEqual([]);
  });

  it('pages Query.items with relayStylePagination and fetchMore', async () => {
    const { client } = await signedInClient();
    const ids = await createItems(client, 12, 'page');
    const variables = {
      filter: { mine: true },
      orderBy: { field: 'NAME' as const, direction: 'ASC' as const },
      first: 5,
    };
    const query = client.watchQuery({ query: ItemsDocument, variables });
    const subscription = query.subscribe(() => undefined);
    try {
      let result: ItemsQuery = (await query.refetch()).data!;
      let pages = 1;
      while (result.items.pageInfo.hasNextPage) {
        await query.fetchMore({ variables: { after: result.items.pageInfo.endCursor } });
        result = client.readQuery({ query: ItemsDocument, variables })!;
        pages++;
      }
      expect(pages).toBe(3);
      expect(result.items.edges.map((e) => e.node.id)).toEqual(ids);
      expect(result.items.totalCount).toBe(12);
    } finally {
      subscription.unsubscribe();
    }
  });

  it('the conflict helper returns the current item for a stale expectedVersion', async () => {
    const { client } = await signedInClient();
    const [id] = await createItems(client, 1, 'conflict');
    await client.mutate({
      mutation: UpdateItemDocument,
      variables: { id: id!, input: { name: 'theirs' }, expectedVersion: 1 },
    });
    const error = await client
      .mutate({ mutation: UpdateItemDocument, variables: { id: id!, input: { name: 'mine' }, expectedVersion: 1 } })
      .then(
        () => undefined,
        (err: unknown) => err,
      );
    const conflict = conflictCurrent(error);
    expect(conflict?.currentVersion).toBe(2);
    expect(conflict?.current).toMatchObject({ id, name: 'theirs', version: 2, tags: ['conflict'] });
    expect(typeof conflict?.current.ownerId).toBe('string');
    // Any other error is not a conflict.
    const missing = await client
      .mutate({ mutation: UpdateItemDocument, variables: { id: '0'.repeat(24), input: { name: 'x' } } })
      .then(
        () => undefined,
        (err: unknown) => err,
      );
    expect(missing).toBeDefined();
    expect(conflictCurrent(missing)).toBeNull();
  });
});
