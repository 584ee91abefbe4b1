import { ApolloClient, ApolloLink, CombinedGraphQLErrors, HttpLink, InMemoryCache, ServerError } from '@apollo/client';
import { ErrorLink } from '@apollo/client/link/error';
import { GraphQLWsLink } from '@apollo/client/link/subscriptions';
import { relayStylePagination } from '@apollo/client/utilities';
import { OperationTypeNode, type GraphQLFormattedError } from 'graphql';
import { createClient } from 'graphql-ws';
import { firstValueFrom, from, switchMap } from 'rxjs';
// Your codegen output (the client preset of codegen.yml below).
import {
  RefreshTokenDocument,
  type AuthPayloadFieldsFragment,
  type ItemFieldsFragment,
} from '../schema/generated/graphql';

/** The tokens the app holds in memory. In cookie mode refreshToken stays null: the cookie is httpOnly. */
export interface Tokens {
  accessToken: string | null;
  refreshToken: string | null;
}

/** Keeps what register, login, refreshToken, resetPassword and changePassword answer. */
export function signedIn(tokens: Tokens, payload: Pick<AuthPayloadFieldsFragment, 'accessToken' | 'refreshToken'>) {
  tokens.accessToken = payload.accessToken;
  tokens.refreshToken = payload.refreshToken;
}

export interface ApiClientOptions {
  uri: string;
  /** Where subscriptions go (graphql-ws); by default `uri` with ws:// or wss://. */
  wsUri?: string;
  /** Where there is no global WebSocket (Node 20): `WebSocket` from the `ws` package. */
  webSocketImpl?: unknown;
  tokens: Tokens;
  /** Signed in with `useCookie: true`: refresh from the __Host-refresh_token cookie. */
  cookieMode?: boolean;
  fetch?: typeof fetch;
  /** The session cannot be renewed (revoked, expired, signed out elsewhere): show the sign-in page. */
  onSignedOut?: (error: unknown) => void;
}

export function createApiClient(options: ApiClientOptions) {
  const { uri, tokens, cookieMode = false, fetch, onSignedOut } = options;
  const http = new HttpLink({ uri, fetch, credentials: cookieMode ? 'include' : 'same-origin' });

  // Sends the current access token, and remembers which one went out (see renew).
  const auth = new ApolloLink((operation, forward) => {
    const token = tokens.accessToken;
    operation.setContext(({ headers }: { headers?: Record<string, string> }) => ({
      headers: { ...headers, ...(token ? { authorization: `Bearer ${token}` } : {}) },
      sentToken: token,
    }));
    return forward(operation);
  });

  // One refresh per expired token: every request that was sent with that token waits for the same
  // one (refresh tokens rotate, so a second refresh with the old one would be refused).
  let last: { expired: string | null; done: Promise<void> } | undefined;
  function renew(client: ApolloClient, expired: string | null): Promise<void> {
    if (last?.expired === expired) return last.done;
    if (tokens.accessToken !== expired) return Promise.resolve(); // signed in again meanwhile
    const request = ApolloLink.execute(
      http,
      { query: RefreshTokenDocument, variables: cookieMode ? {} : { refreshToken: tokens.refreshToken } },
      { client },
    );
    const done = firstValueFrom(request).then((result) => {
      if (result.errors?.length || !result.data) throw new CombinedGraphQLErrors(result);
      signedIn(tokens, result.data.refreshToken);
    });
    done.catch((error: unknown) => {
      tokens.accessToken = null;
      tokens.refreshToken = null;
      onSignedOut?.(error);
    });
    last = { expired, done };
    return done;
  }

  // On TOKEN_EXPIRED: renew, then send the operation again (once) with the new token. When the
  // refresh is refused the operation fails with that refusal (reason REFRESH_TOKEN_INVALID).
  const retryExpired = new ErrorLink(({ error, operation, forward }) => {
    const context = operation.getContext();
    if (errorReason(error) !== 'TOKEN_EXPIRED' || context.retried) return;
    return from(renew(operation.client, context.sentToken as string | null)).pipe(
      switchMap(() => {
        operation.setContext({ retried: true });
        return forward(operation);
      }),
    );
  });

  // Subscriptions share one WebSocket, opened for the first and closed after the last (lazy). The
  // server reads the token once, in connection_init, and closes the socket with 4401 TOKEN_EXPIRED
  // when it expires. graphql-ws never retries a 4401, so that subscription ends with the error
  // "Socket closed with event 4401 TOKEN_EXPIRED"; the next connection renews the token first.
  let socketToken: string | null = null;
  let expiredOnSocket: string | null | undefined;
  const ws = createClient({
    url: options.wsUri ?? uri.replace(/^http/, 'ws'),
    webSocketImpl: options.webSocketImpl,
    lazy: true,
    connectionParams: async () => {
      if (expiredOnSocket !== undefined) {
        // A refused refresh already signed out (onSignedOut): connect without a token, refused with 4401.
        await renew(client, expiredOnSocket).catch(() => undefined);
        expiredOnSocket = undefined;
      }
      socketToken = tokens.accessToken;
      return socketToken ? { authorization: `Bearer ${socketToken}` } : {};
    },
    on: {
      closed: (event) => {
        const { code, reason } = event as { code?: number; reason?: string };
        if (code === 4401 && reason === 'TOKEN_EXPIRED') expiredOnSocket = socketToken;
      },
    },
  });

  const client = new ApolloClient({
    // The server runs only subscriptions over the socket; queries and mutations go over HTTP.
    link: ApolloLink.split(
      (operation) => operation.operationType === OperationTypeNode.SUBSCRIPTION,
      new GraphQLWsLink(ws),
      ApolloLink.from([retryExpired, auth, http]),
    ),
    cache: new InMemoryCache({
      // Pages of one filter and order merge into one list; fetchMore({ variables: { after } }) adds a page.
      typePolicies: { Query: { fields: { items: relayStylePagination(['filter', 'orderBy']) } } },
    }),
  });
  return client;
}

/**
 * The GraphQL errors of a failed operation. An expired or refused token comes with HTTP 401, which
 * Apollo Client reports as a ServerError carrying the body when the response is plain JSON.
 */
export function graphQLErrors(error: unknown): readonly GraphQLFormattedError[] {
  if (CombinedGraphQLErrors.is(error)) return error.errors;
  if (ServerError.is(error)) {
    try {
      const body = JSON.parse(error.bodyText) as { errors?: GraphQLFormattedError[] };
      return Array.isArray(body.errors) ? body.errors : [];
    } catch {
      return [];
    }
  }
  return [];
}

/** `extensions.reason` of the first error that has one: TOKEN_EXPIRED, SESSION_REVOKED, NOT_OWNER, … */
export function errorReason(error: unknown): string | undefined {
  const reason = graphQLErrors(error).find((e) => typeof e.extensions?.reason === 'string')?.extensions?.reason;
  return reason as string | undefined;
}

/** The item as `updateItem` found it when `expectedVersion` was stale: its scalar fields and ownerId. */
export type CurrentItem = Omit<ItemFieldsFragment, '__typename' | 'owner'> & { ownerId: string };

/** From a CONFLICT of `updateItem`, the other change, to show or merge; null for any other error. */
export function conflictCurrent(error: unknown): { current: CurrentItem; currentVersion: number } | null {
  const conflict = graphQLErrors(error).find((e) => e.extensions?.code === 'CONFLICT' && e.extensions.current);
  if (!conflict) return null;
  const { current, currentVersion } = conflict.extensions as { current: CurrentItem; currentVersion: number };
  return { current, currentVersion };
}
