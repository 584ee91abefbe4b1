import { createGraphiQLFetcher, type Fetcher } from '@graphiql/toolkit';
import { GraphiQL } from 'graphiql';
import React, { useMemo, useState } from 'react';
import { createRoot } from 'react-dom/client';
import 'graphiql/graphiql.css';
import './playground.css';

const TOKEN_KEY = 'playground.accessToken';
const ENDPOINT = new URL('/graphql', window.location.href).toString();

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
}

function loadSession(): Session | null {
  const raw = sessionStorage.getItem(TOKEN_KEY);
  return raw ? (JSON.parse(raw) as Session) : null;
}

async function login(email: string, password: string): Promise<Session> {
  const res = await fetch(ENDPOINT, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      query: 'mutation Login($input: LoginInput!) { login(input: $input) { accessToken user { email } } }',
      variables: { input: { email, password } },
    }),
  });
  const body = await res.json();
  if (body.errors?.length) throw new Error(`${body.errors[0].extensions?.code ?? 'ERROR'}: ${body.errors[0].message}`);
  return { token: body.data.login.accessToken, email: body.data.login.user.email };
}

function SignIn({ session, onChange }: { session: Session | null; onChange: (s: Session | null) => void }) {
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [pasted, setPasted] = useState('');
  const [error, setError] = useState('');

  if (session) {
    return (
      <div className="pg-bar">
        <span data-testid="signed-in">
          Signed in{session.email ? ` as ${session.email}` : ' with a pasted token'}; queries send{' '}
          <code>Authorization: Bearer …</code>
        </span>
        <button type="button" onClick={() => onChange(null)}>
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
        login(email, password).then(onChange, (err: Error) => setError(err.message));
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

  const change = (next: Session | null) => {
    if (next) sessionStorage.setItem(TOKEN_KEY, JSON.stringify(next));
    else sessionStorage.removeItem(TOKEN_KEY);
    setSession(next);
  };

  // The header is added per request, so signing in or out applies to the next query at once.
  const fetcher: Fetcher = useMemo(
    () =>
      createGraphiQLFetcher({
        url: ENDPOINT,
        fetch: (input, init) => {
          const headers = new Headers(init?.headers);
          const current = loadSession();
          if (current && !headers.has('authorization')) headers.set('authorization', `Bearer ${current.token}`);
          return fetch(input, { ...init, headers });
        },
      }),
    [],
  );

  return (
    <div className="pg-root">
      <SignIn session={session} onChange={change} />
      <div className="pg-graphiql">
        <GraphiQL fetcher={fetcher} defaultQuery={initialQuery} shouldPersistHeaders={false} />
      </div>
    </div>
  );
}

createRoot(document.getElementById('root')!).render(<App />);
