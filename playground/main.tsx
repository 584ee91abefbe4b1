import { createGraphiQLFetcher, type Fetcher } from '@graphiql/toolkit';
import { GraphiQL } from 'graphiql';
import { createClient } from 'graphql-ws';
import React, { useEffect, useMemo, useState } from 'react';
import { createRoot } from 'react-dom/client';
import 'graphiql/graphiql.css';
import './playground.css';

const TOKEN_KEY = 'playground.accessToken';
const ENDPOINT = new URL('/graphql', window.location.href).toString();
/** Subscriptions: graphql-ws on the same path, ws:// or wss:// as the page. */
const WS_ENDPOINT = ENDPOINT.replace(/^http/, 'ws');

const DEFAULT_QUERY = `# Sign in above, then run. You see yourself as a User (email, role);
# other people, such as an item's owner, are a PublicUser (id only).
{
  me {
    email
    role
  }
  items(first: 5) {
    edges {
      node {
        name
        owner {
          id
        }
      }
    }
  }
}
`;

interface Session {
  token: string;
  email?: string;
  /** Signed in with the form: the refresh token is in the httpOnly cookie, so the session renews itself. */
  cookie?: boolean;
}

function loadSession(): Session | null {
  const raw = sessionStorage.getItem(TOKEN_KEY);
  return raw ? (JSON.parse(raw) as Session) : null;
}

/** Who wants to hear that the session changed (the sign-in bar). */
let onSessionChange: (s: Session | null) => void = () => undefined;

function saveSession(next: Session | null): void {
  if (next) sessionStorage.setItem(TOKEN_KEY, JSON.stringify(next));
  else sessionStorage.removeItem(TOKEN_KEY);
  onSessionChange(next);
}

interface Body {
  data?: Record<string, { accessToken: string; user?: { email: string } } | null> | null;
  errors?: Array<{ message: string; extensions?: { code?: string; reason?: string } }>;
}

async function post(query: string, variables?: object): Promise<Body> {
  const res = await fetch(ENDPOINT, {
    method: 'POST',
    credentials: 'same-origin',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query, variables }),
  });
  return res.json();
}

/** A refused sign-in, with the server's `extensions.reason` (MFA_REQUIRED asks for a code). */
class SignInError extends Error {
  constructor(
    message: string,
    readonly reason?: string,
  ) {
    super(message);
  }
}

async function login(email: string, password: string, totpCode?: string): Promise<Session> {
  // Cookie mode: the refresh token never reaches this page's JavaScript.
  const body = await post(
    'mutation Login($input: LoginInput!) { login(input: $input) { accessToken user { email } } }',
    { input: { email, password, totpCode: totpCode || undefined, useCookie: true } },
  );
  if (body.errors?.length) {
    const { extensions, message } = body.errors[0];
    throw new SignInError(`${extensions?.code ?? 'ERROR'}: ${message}`, extensions?.reason);
  }
  const signedIn = body.data!.login!;
  return { token: signedIn.accessToken, email: signedIn.user?.email, cookie: true };
}

let refreshing: Promise<Session | null> | null = null;

/** One refresh from the cookie at a time, shared by every request that found its token expired. */
function refreshSession(current: Session): Promise<Session | null> {
  refreshing ??= post('mutation Refresh { refreshToken { accessToken } }')
    .then((body) => (body.data?.refreshToken ? { ...current, token: body.data.refreshToken.accessToken } : null))
    .catch(() => null)
    .then((next) => {
      saveSession(next);
      return next;
    })
    .finally(() => {
      refreshing = null;
    });
  return refreshing;
}

/** The reason of a 401, if the response is one. */
async function refusal(res: Response): Promise<string | null> {
  if (res.status !== 401) return null;
  const body = await res
    .clone()
    .json()
    .catch(() => null);
  return body?.errors?.[0]?.extensions?.reason ?? 'UNAUTHENTICATED';
}

/**
 * Adds the current access token. An expired one is renewed from the cookie and the request sent
 * again; when that fails the playground signs out visibly and sends the request without a token,
 * so introspection (the docs) keeps working.
 */
async function authorizedFetch(input: RequestInfo | URL, init?: RequestInit): Promise<Response> {
  const send = (session: Session | null) => {
    const headers = new Headers(init?.headers);
    if (session && !headers.has('authorization')) headers.set('authorization', `Bearer ${session.token}`);
    return fetch(input, { ...init, credentials: 'same-origin', headers });
  };
  const session = loadSession();
  const res = await send(session);
  const reason = session ? await refusal(res) : null;
  if (!session || !reason) return res;
  const renewed = session.cookie && reason === 'TOKEN_EXPIRED' ? await refreshSession(session) : null;
  if (!renewed) saveSession(null);
  return send(renewed);
}

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

function SignIn({ session, onChange }: { session: Session | null; onChange: (s: Session | null) => void }) {
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [pasted, setPasted] = useState('');
  const [error, setError] = useState('');
  // Shown once the server answers MFA_REQUIRED: the account has two-factor sign-in on.
  const [needsCode, setNeedsCode] = useState(false);
  const [totpCode, setTotpCode] = useState('');

  if (session) {
    return (
      <div className="pg-bar">
        <span data-testid="signed-in">
          Signed in{session.email ? ` as ${session.email}` : ' with a pasted token'}; queries send{' '}
          <code>Authorization: Bearer …</code>
        </span>
        <button
          type="button"
          onClick={() => {
            // Ends the session on the server too and clears the refresh cookie.
            if (session.cookie) void post('mutation Logout { logout }');
            onChange(null);
          }}
        >
          Sign out
        </button>
      </div>
    );
  }
  return (
    <form
      className="pg-bar"
      onSubmit={(e) => {
        e.preventDefault();
        setError('');
        if (pasted.trim()) return onChange({ token: pasted.trim().replace(/^Bearer\s+/i, '') });
        login(email, password, needsCode ? totpCode.trim() : undefined).then(onChange, (err: SignInError) => {
          if (err.reason === 'MFA_REQUIRED') {
            setNeedsCode(true);
            setError('Enter the code from your authenticator app (or a recovery code)');
          } else setError(err.message);
        });
      }}
    >
      <strong>GraphQL playground</strong>
      <input
        name="email"
        type="email"
        placeholder="email"
        autoComplete="username"
        value={email}
        onChange={(e) => setEmail(e.target.value)}
      />
      <input
        name="password"
        type="password"
        placeholder="password"
        autoComplete="current-password"
        value={password}
        onChange={(e) => setPassword(e.target.value)}
      />
      {needsCode && (
        <input
          name="totpCode"
          placeholder="6-digit code"
          autoComplete="one-time-code"
          inputMode="text"
          autoFocus
          value={totpCode}
          onChange={(e) => setTotpCode(e.target.value)}
        />
      )}
      <button type="submit">Sign in</button>
      <span className="pg-or">or</span>
      <input
        name="token"
        placeholder="paste an access token"
        value={pasted}
        onChange={(e) => setPasted(e.target.value)}
      />
      {error && (
        <span className="pg-error" role="alert">
          {error}
        </span>
      )}
    </form>
  );
}

function App() {
  const [session, setSession] = useState<Session | null>(loadSession);
  const initialQuery = new URLSearchParams(window.location.search).get('query') ?? DEFAULT_QUERY;

  useEffect(() => {
    onSessionChange = setSession;
  }, []);

  // The header is added per request, so signing in or out applies to the next query at once.
  // Subscriptions go over graphql-ws (wsClient), with the token current when the socket opens.
  const fetcher: Fetcher = useMemo(
    () => createGraphiQLFetcher({ url: ENDPOINT, fetch: authorizedFetch, wsClient }),
    [],
  );

  return (
    <div className="pg-root">
      <SignIn session={session} onChange={saveSession} />
      <div className="pg-graphiql">
        <GraphiQL fetcher={fetcher} defaultQuery={initialQuery} shouldPersistHeaders={false} />
      </div>
    </div>
  );
}

createRoot(document.getElementById('root')!).render(<App />);
