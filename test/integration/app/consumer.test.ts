import { createHash } from 'node:crypto';
import { ApolloClient, ApolloLink, gql, HttpLink, InMemoryCache, ServerError } from '@apollo/client';
import { SetContextLink } from '@apollo/client/link/context';
import { PersistedQueryLink } from '@apollo/client/link/persisted-queries';
import { GraphQLWsLink } from '@apollo/client/link/subscriptions';
import { getOperationAST, OperationTypeNode, print } from 'graphql';
import { relayStylePagination } from '@apollo/client/utilities';
import { createClient, type Client as WsClient } from 'graphql-ws';
import WebSocket from 'ws';
import {
  CreateItemDocument,
  DeleteItemDocument,
  ItemEventsDocument,
  ItemsDocument,
  LoginDocument,
  LogoutDocument,
  MeDocument,
  RefreshTokenDocument,
  RegisterDocument,
  UpdateItemDocument,
  type ItemEventsSubscription,
  type ItemsQuery,
} from '../../../schema/generated/graphql';
import { signUp } from '../../helpers/auth';
import { startTestServer, type TestServer } from '../../helpers/server';
import { HASH_BY_OPERATION } from '../../helpers/trusted-documents';

/**
 * A real frontend consumer: Apollo Client with the generated typed documents only, an auth link
 * that refreshes an expired access token, and relay-style pagination on Query.items.
 */
describe('an Apollo Client consumer with the generated typed documents', () => {
  let api: TestServer;
  const email = `consumer-${Date.now()}@example.com`;
  const password = 'Consumer-Horse-Battery-42';

  // What a browser app would keep in memory.
  const tokens = { access: '', refresh: '', expiresAt: 0 };
  let refreshes = 0;

  function store(payload: { accessToken: string; refreshToken: string | null; expiresIn: number }): void {
    tokens.access = payload.accessToken;
    // Not in cookie mode: the refresh token comes in the body.
    tokens.refresh = payload.refreshToken!;
    // The token's own `exp` (whole seconds) is what the server checks; expiresIn is the same lifetime.
    const claims = JSON.parse(Buffer.from(payload.accessToken.split('.')[1]!, 'base64url').toString()) as {
      exp: number;
    };
    expect(claims.exp * 1000).toBeLessThanOrEqual(Date.now() + payload.expiresIn * 1000);
    tokens.expiresAt = claims.exp * 1000;
  }

  let myId = '';
  let client: ApolloClient;
  let bare: ApolloClient;

  beforeAll(async () => {
    // A two-second access token, so the test can watch it expire and be refreshed.
    api = await startTestServer({ ACCESS_TOKEN_TTL: '2' });
    const http = new HttpLink({ uri: `${api.url}/graphql` });
    bare = new ApolloClient({ link: http, cache: new InMemoryCache() });

    const auth = new SetContextLink(async (prevContext) => {
      if (tokens.refresh && Date.now() >= tokens.expiresAt - 250) {
        const { data } = await bare.mutate({
          mutation: RefreshTokenDocument,
          variables: { refreshToken: tokens.refresh },
        });
        store(data!.refreshToken);
        refreshes++;
      }
      const headers = { ...(prevContext.headers as Record<string, string>) };
      if (tokens.access) headers.authorization = `Bearer ${tokens.access}`;
      return { headers };
    });
    client = new ApolloClient({
      link: auth.concat(http),
      cache: new InMemoryCache({
        typePolicies: { Query: { fields: { items: relayStylePagination(['filter', 'orderBy']) } } },
      }),
    });
  });
  afterAll(async () => {
    client?.stop();
    bare?.stop();
    await api.stop();
  });

  it('registers, signs in and sends the access token with a link', async () => {
    const registered = await client.mutate({ mutation: RegisterDocument, variables: { input: { email, password } } });
    expect(registered.data?.register.user.email).toBe(email);
    const login = await client.mutate({ mutation: LoginDocument, variables: { input: { email, password } } });
    store(login.data!.login);
    myId = login.data!.login.user.id;
    expect(login.data!.login.tokenType).toBe('Bearer');
    const me = await client.query({ query: MeDocument, fetchPolicy: 'network-only' });
    expect(me.data?.me?.email).toBe(email);
  });

  const created: string[] = [];

  it('creates 45 items and reads them back page by page with fetchMore, each once and in order', async () => {
    for (let i = 0; i < 45; i++) {
      const { data } = await client.mutate({
        mutation: CreateItemDocument,
        variables: { input: { name: `Item ${String(i).padStart(2, '0')}`, tags: ['consumer'], quantity: i } },
      });
      created.push(data!.createItem.id);
    }
    const variables = {
      filter: { mine: true },
      orderBy: { field: 'NAME' as const, direction: 'ASC' as const },
      first: 10,
    };
    const query = client.watchQuery({ query: ItemsDocument, variables });
    const subscription = query.subscribe(() => undefined);
    try {
      let result: ItemsQuery = (await query.refetch()).data!;
      let pages = 1;
      while (result.items.pageInfo.hasNextPage) {
        const more = await query.fetchMore({ variables: { after: result.items.pageInfo.endCursor } });
        expect(more.data?.items.edges.length).toBeGreaterThan(0);
        // relayStylePagination merges every page into one list in the cache.
        result = client.readQuery({ query: ItemsDocument, variables })!;
        pages++;
      }
      expect(pages).toBe(5);
      checkAll(result);
    } finally {
      subscription.unsubscribe();
    }
  });

  function checkAll(result: ItemsQuery): void {
    const names = result.items.edges.map((e) => e.node.name);
    expect(names).toHaveLength(45);
    expect(new Set(result.items.edges.map((e) => e.node.id)).size).toBe(45);
    expect(names).toEqual([...names].sort());
    expect(result.items.totalCount).toBe(45);
    // Owners come as the public type, whose generated type has nothing private to read.
    for (const { node } of result.items.edges) {
      expect(node.owner).toEqual({ __typename: 'PublicUser', id: myId, displayName: null });
      // @ts-expect-error ItemFields selects no email on a PublicUser (the schema has none).
      expect(node.owner.email).toBeUndefined();
    }
  }

  it('updates an item with expectedVersion', async () => {
    const { data } = await client.mutate({
      mutation: UpdateItemDocument,
      variables: { id: created[0]!, input: { name: 'Item 00 renamed' }, expectedVersion: 1 },
    });
    expect(data?.updateItem).toMatchObject({ id: created[0], name: 'Item 00 renamed', version: 2 });
  });

  it('deletes an item and evicts it from the cache', async () => {
    const id = created[1]!;
    const { data } = await client.mutate({
      mutation: DeleteItemDocument,
      variables: { id },
      update(cache, { data: deleted }) {
        cache.evict({ id: cache.identify({ __typename: 'Item', id: deleted!.deleteItem }) });
        cache.gc();
      },
    });
    expect(data?.deleteItem).toBe(id);
    const cached = client.readQuery({
      query: ItemsDocument,
      variables: { filter: { mine: true }, orderBy: { field: 'NAME', direction: 'ASC' }, first: 10 },
    });
    const ids = cached!.items.edges.map((e) => e.node?.id);
    expect(ids).toHaveLength(44);
    expect(ids).not.toContain(id);
    expect((client.cache.extract() as Record<string, unknown>)[`Item:${id}`]).toBeUndefined();
  });

  it('refreshes the access token once it has expired, and keeps working', async () => {
    const before = tokens.access;
    await new Promise((r) => setTimeout(r, 2200));
    // The expired token itself is refused by the server...
    const raw = await api.gql('{ me { id } }', undefined, { authorization: `Bearer ${before}` });
    expect(raw.status).toBe(401);
    // ...and the client's link swaps it for a fresh one before sending.
    const me = await client.query({ query: MeDocument, fetchPolicy: 'network-only' });
    expect(me.data?.me?.email).toBe(email);
    expect(refreshes).toBeGreaterThanOrEqual(1);
    expect(tokens.access).not.toBe(before);
  });

  it('signs out: the refresh token stops working', async () => {
    const { data } = await client.mutate({ mutation: LogoutDocument, variables: { refreshToken: tokens.refresh } });
    expect(data?.logout).toBe(true);
    const refused = await bare
      .mutate({ mutation: RefreshTokenDocument, variables: { refreshToken: tokens.refresh } })
      .then(
        () => null,
        (err: { errors?: Array<{ extensions?: { code?: string } }> }) => err,
      );
    expect(refused?.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
  });
});

/**
 * The same consumer against a server that runs only the committed manifest (TRUSTED_DOCUMENTS=only):
 * Apollo's persisted-query link names each generated document by its manifest hash, so no text
 * travels; a document outside the manifest is refused.
 */
describe('an Apollo Client consumer of a server with TRUSTED_DOCUMENTS=only', () => {
  let api: TestServer;
  let client: ApolloClient;
  let token = '';
  const sent: Array<{ query?: string; extensions?: { persistedQuery?: { sha256Hash?: string } } }> = [];

  beforeAll(async () => {
    api = await startTestServer({ TRUSTED_DOCUMENTS: 'only' });
    const http = new HttpLink({
      uri: `${api.url}/graphql`,
      fetch: (url, init) => {
        sent.push(JSON.parse(String(init!.body)) as (typeof sent)[number]);
        return fetch(url, init);
      },
    });
    // The hash comes from the manifest (its text is printed differently from Apollo's `print`);
    // a document outside it gets the usual hash, which such a server refuses.
    const persisted = new PersistedQueryLink({
      generateHash: (document) =>
        HASH_BY_OPERATION.get(getOperationAST(document)?.name?.value ?? '') ??
        createHash('sha256').update(print(document)).digest('hex'),
    });
    const auth = new SetContextLink((prev) => ({
      headers: { ...(prev.headers as Record<string, string>), ...(token && { authorization: `Bearer ${token}` }) },
    }));
    client = new ApolloClient({ link: auth.concat(persisted).concat(http), cache: new InMemoryCache() });
  });
  afterAll(async () => {
    client?.stop();
    await api.stop();
  });

  it('registers, signs in, creates and lists items with hashes only', async () => {
    const email = `trusted-${Date.now()}@example.com`;
    const password = 'Trusted-Horse-Battery-42';
    await client.mutate({ mutation: RegisterDocument, variables: { input: { email, password } } });
    const login = await client.mutate({ mutation: LoginDocument, variables: { input: { email, password } } });
    token = login.data!.login.accessToken;
    const me = await client.query({ query: MeDocument, fetchPolicy: 'network-only' });
    expect(me.data?.me?.email).toBe(email);
    const created = await client.mutate({
      mutation: CreateItemDocument,
      variables: { input: { name: 'Trusted item', tags: ['trusted'] } },
    });
    const items = await client.query({ query: ItemsDocument, variables: { filter: { mine: true }, first: 5 } });
    expect(items.data?.items.edges.map((e) => e.node.id)).toEqual([created.data!.createItem.id]);
    expect(items.data?.items.edges[0]!.node.owner.__typename).toBe('PublicUser');

    expect(sent).toHaveLength(5);
    for (const body of sent) {
      expect(body.query).toBeUndefined();
      expect([...HASH_BY_OPERATION.values()]).toContain(body.extensions?.persistedQuery?.sha256Hash);
    }
  });

  it('is refused an ad-hoc query with TRUSTED_DOCUMENT_REQUIRED', async () => {
    const error = await client
      .query({ query: gql('query AdHoc { me { id email } }'), fetchPolicy: 'network-only' })
      .then(
        () => undefined,
        (err: unknown) => err,
      );
    // A 400 with a JSON body: Apollo Client 4 reports it as a ServerError carrying the body.
    expect(ServerError.is(error)).toBe(true);
    const refused = error as ServerError;
    expect(refused.statusCode).toBe(400);
    const { errors } = JSON.parse(refused.bodyText) as { errors: Array<{ extensions?: { code?: string } }> };
    expect(errors.map((e) => e.extensions?.code)).toEqual(['TRUSTED_DOCUMENT_REQUIRED']);
    // The link did not fall back to sending the text.
    expect(sent.at(-1)?.query).toBeUndefined();
  });
});

/**
 * Subscriptions as a frontend consumes them: Apollo Client's GraphQLWsLink (graphql-ws) for
 * subscriptions, HttpLink for the rest, and the generated ItemEventsDocument typing the events.
 */
describe('an Apollo Client consumer subscribed with GraphQLWsLink', () => {
  let api: TestServer;
  let ws: WsClient;
  let client: ApolloClient;
  let alice: Awaited<ReturnType<typeof signUp>>;
  let bob: Awaited<ReturnType<typeof signUp>>;

  beforeAll(async () => {
    api = await startTestServer();
    [alice, bob] = await Promise.all([signUp(api), signUp(api)]);
    ws = createClient({
      url: `${api.url.replace(/^http/, 'ws')}/graphql`,
      // Node 20 has no global WebSocket.
      webSocketImpl: WebSocket,
      lazy: true,
      connectionParams: () => ({ authorization: `Bearer ${bob.accessToken}` }),
    });
    client = new ApolloClient({
      link: ApolloLink.split(
        (operation) => operation.operationType === OperationTypeNode.SUBSCRIPTION,
        new GraphQLWsLink(ws),
        new HttpLink({ uri: `${api.url}/graphql`, headers: { authorization: `Bearer ${alice.accessToken}` } }),
      ),
      cache: new InMemoryCache(),
    });
  });
  afterAll(async () => {
    client?.stop();
    await ws?.dispose();
    await api.stop();
  });

  it("receives another user's CREATED, UPDATED and DELETED events, typed by codegen", async () => {
    const events: Array<ItemEventsSubscription['itemEvents']> = [];
    const failures: unknown[] = [];
    const subscription = client
      .subscribe({ query: ItemEventsDocument, variables: { filter: { ownerId: alice.user.id } } })
      .subscribe({
        next: (result) => (result.data ? events.push(result.data.itemEvents) : failures.push(result.error)),
        error: (error: unknown) => failures.push(error),
      });
    const arrived = async (match: (e: ItemEventsSubscription['itemEvents']) => boolean, ms: number) => {
      for (const deadline = Date.now() + ms; Date.now() < deadline;) {
        if (events.some(match)) return true;
        await new Promise((r) => setTimeout(r, 20));
      }
      return events.some(match);
    };
    try {
      // The subscription is registered on the server a little after subscribe(): create items
      // until one's event arrives.
      let id = '';
      for (let attempt = 0; attempt < 20 && !id; attempt++) {
        const { data } = await client.mutate({
          mutation: CreateItemDocument,
          variables: { input: { name: `Live ${attempt}`, category: 'live' } },
        });
        if (await arrived((e) => e.id === data!.createItem.id, 500)) id = data!.createItem.id;
      }
      expect(failures).toEqual([]);
      const created = events.find((e) => e.id === id)!;
      // The generated types: the event's enum, and the item's ItemFields with a PublicUser owner.
      const type: 'CREATED' | 'UPDATED' | 'DELETED' = created.type;
      expect(type).toBe('CREATED');
      // Bob watches alice's item: the actor is shown to its owner and admins only.
      expect(created).toMatchObject({ __typename: 'ItemEvent', version: 1, actorId: null });
      expect(created.item).toMatchObject({
        __typename: 'Item',
        id,
        category: 'live',
        version: 1,
        owner: { __typename: 'PublicUser', id: alice.user.id },
      });
      // @ts-expect-error ItemFields selects no email on a PublicUser (the schema has none).
      expect(created.item!.owner.email).toBeUndefined();

      await client.mutate({ mutation: UpdateItemDocument, variables: { id, input: { name: 'Renamed' } } });
      expect(await arrived((e) => e.id === id && e.type === 'UPDATED', 5000)).toBe(true);
      await client.mutate({ mutation: DeleteItemDocument, variables: { id } });
      expect(await arrived((e) => e.id === id && e.type === 'DELETED', 5000)).toBe(true);
      const mine = events.filter((e) => e.id === id);
      expect(mine.map((e) => [e.type, e.version, e.item?.name ?? null])).toEqual([
        ['CREATED', 1, created.item!.name],
        ['UPDATED', 2, 'Renamed'],
        ['DELETED', 3, null],
      ]);
      expect(failures).toEqual([]);
    } finally {
      subscription.unsubscribe();
    }
  });
});
