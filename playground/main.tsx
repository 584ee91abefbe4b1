import { createGraphiQLFetcher, type Fetcher } from '@graphiql/toolkit';
import { GraphiQL } from 'graphiql';
import { createClient } from 'graphql-ws';
import React, { useEffect, useMemo, useState } from 'react';
import { createRoot } from 'react-dom/client';
import 'graphiql/graphiql.css';
import './playground.css';
import { ORGANIZATIONS, organizationsVariables, START } from './examples';
import { takeProviderCallback } from './providers';
import { SignIn } from './sign-in';
import {
  authorizedFetch,
  ENDPOINT,
  listenToSession,
  loadSession,
  refreshSession,
  saveSession,
  type Session,
} from './session';

/** Subscriptions: graphql-ws on the same path, ws:// or wss:// as the page. */
const WS_ENDPOINT = ENDPOINT.replace(/^http/, 'ws');

/** The token the open socket was authenticated with, and whether the server found it expired. */
let socketToken: string | null = null;
let socketTokenExpired = false;

/**
 * One graphql-ws client for every subscription GraphiQL runs. Lazy: the socket opens for the first
 * subscription and closes after the last. The server reads the token once, in connection_init, and
 * closes the socket with 4401 TOKEN_EXPIRED when it expires; graphql-ws does not retry a 4401, so
 * that subscription ends with the error, and the next one renews the token from the cookie first.
 */
const wsClient = createClient({
  url: WS_ENDPOINT,
  lazy: true,
  connectionParams: async () => {
    let session = loadSession();
    if (session && socketTokenExpired && session.token === socketToken) {
      session = session.cookie ? await refreshSession(session) : null;
      if (!session) saveSession(null);
    }
    socketTokenExpired = false;
    socketToken = session?.token ?? null;
    return session ? { authorization: `Bearer ${session.token}` } : {};
  },
  on: {
    closed: (event) => {
      const { code, reason } = event as CloseEvent;
      if (code === 4401 && reason === 'TOKEN_EXPIRED') socketTokenExpired = true;
    },
  },
});

/**
 * The invitation token of an invitation link (ACCEPT_INVITATION_URL's default points here), taken
 * out of the address bar at once so it is not left in the history.
 */
function takeInvitationToken(): string | null {
  const url = new URL(window.location.href);
  const token = url.searchParams.get('invitation');
  if (token === null) return null;
  url.searchParams.delete('invitation');
  window.history.replaceState(window.history.state, '', url.href);
  return token;
}

// Before anything renders: the provider's code and an invitation token leave the address bar at once.
const providerCallback = takeProviderCallback();
const invitationToken = takeInvitationToken();

function App() {
  const [session, setSession] = useState<Session | null>(loadSession);
  // A link with ?query= opens that document alone; otherwise the example documents, one tab each,
  // the organization walk-through first (with its token) when an invitation link opened the page.
  const linked = new URLSearchParams(window.location.search).get('query');
  const start = { query: START };
  const organizations = { query: ORGANIZATIONS, variables: organizationsVariables(invitationToken) };
  const tabs: Array<{ query: string; variables?: string }> = linked
    ? [{ query: linked }]
    : invitationToken
      ? [organizations, start]
      : [start, organizations];

  useEffect(() => {
    listenToSession(setSession);
  }, []);

  // The header is added per request, so signing in or out applies to the next query at once.
  // Subscriptions go over graphql-ws (wsClient), with the token current when the socket opens.
  const fetcher: Fetcher = useMemo(
    () => createGraphiQLFetcher({ url: ENDPOINT, fetch: authorizedFetch, wsClient }),
    [],
  );

  return (
    <div className="pg-root">
      <SignIn session={session} onChange={saveSession} callback={providerCallback} />
      <div className="pg-graphiql">
        <GraphiQL
          fetcher={fetcher}
          defaultTabs={tabs}
          // GraphiQL fills the editors from these, not from the first tab.
          query={tabs[0]!.query}
          variables={tabs[0]!.variables}
          shouldPersistHeaders={false}
        />
      </div>
    </div>
  );
}

createRoot(document.getElementById('root')!).render(<App />);
