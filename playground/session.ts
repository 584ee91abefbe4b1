/** The playground's session (sessionStorage) and its one channel to this origin's /graphql. */

const TOKEN_KEY = 'playground.accessToken';
export const ENDPOINT = new URL('/graphql', window.location.href).toString();

export interface Session {
  token: string;
  email?: string;
  /** Signed in with the form: the refresh token is in the httpOnly cookie, so the session renews itself. */
  cookie?: boolean;
}

export function loadSession(): Session | null {
  const raw = sessionStorage.getItem(TOKEN_KEY);
  return raw ? (JSON.parse(raw) as Session) : null;
}

/** Who wants to hear that the session changed (the sign-in bar). */
let onSessionChange: (s: Session | null) => void = () => undefined;

export function listenToSession(listener: (s: Session | null) => void): void {
  onSessionChange = listener;
}

export function saveSession(next: Session | null): void {
  if (next) sessionStorage.setItem(TOKEN_KEY, JSON.stringify(next));
  else sessionStorage.removeItem(TOKEN_KEY);
  onSessionChange(next);
}

interface Body {
  data?: Record<string, unknown> | null;
  errors?: Array<{ message: string; extensions?: { code?: string; reason?: string; field?: string } }>;
}

/**
 * A refused operation, with the server's `extensions`: `reason` (MFA_REQUIRED asks for a code)
 * and `field` (reauthenticate names `input.totpCode` when the account needs one).
 */
export class ApiError extends Error {
  constructor(
    message: string,
    readonly code?: string,
    readonly reason?: string,
    readonly field?: string,
  ) {
    super(message);
  }
}

const request = (query: string, variables?: object): RequestInit => ({
  method: 'POST',
  credentials: 'same-origin',
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify({ query, variables }),
});

export async function post(query: string, variables?: object): Promise<Body> {
  return (await fetch(ENDPOINT, request(query, variables))).json();
}

/** The one root field an operation asked for, or its first error thrown as an ApiError. */
export function fieldOf<T>(body: Body, field: string): T {
  const error = body.errors?.[0];
  if (error) {
    const { code, reason, field: input } = error.extensions ?? {};
    throw new ApiError(`${code ?? 'ERROR'}: ${error.message}`, code, reason, input);
  }
  return body.data![field] as T;
}

/** Sends a signed-in operation with the current token (renewed from the cookie when it expired). */
export async function postSignedIn(query: string, variables?: object): Promise<Body> {
  return (await authorizedFetch(ENDPOINT, request(query, variables))).json();
}

/** What every sign-in mutation of the playground selects. */
export const SIGNED_IN = '{ accessToken user { email } }';

/** The session a sign-in mutation answered, in cookie mode unless told otherwise. */
export function sessionOf(body: Body, field: string): Session {
  const signedIn = fieldOf<{ accessToken: string; user?: { email: string } }>(body, field);
  return { token: signedIn.accessToken, email: signedIn.user?.email, cookie: true };
}

export async function login(email: string, password: string, totpCode?: string): Promise<Session> {
  // Cookie mode: the refresh token never reaches this page's JavaScript.
  const body = await post(`mutation Login($input: LoginInput!) { login(input: $input) ${SIGNED_IN} }`, {
    input: { email, password, totpCode: totpCode || undefined, useCookie: true },
  });
  return sessionOf(body, 'login');
}

let refreshing: Promise<Session | null> | null = null;

/** One refresh from the cookie at a time, shared by every request that found its token expired. */
export function refreshSession(current: Session): Promise<Session | null> {
  refreshing ??= post('mutation Refresh { refreshToken { accessToken } }')
    .then((body) => {
      const renewed = body.data?.refreshToken as { accessToken: string } | null | undefined;
      return renewed ? { ...current, token: renewed.accessToken } : null;
    })
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
export async function authorizedFetch(input: RequestInfo | URL, init?: RequestInit): Promise<Response> {
  const sendWith = (session: Session | null) => {
    const headers = new Headers(init?.headers);
    if (session && !headers.has('authorization')) headers.set('authorization', `Bearer ${session.token}`);
    return fetch(input, { ...init, credentials: 'same-origin', headers });
  };
  const session = loadSession();
  const res = await sendWith(session);
  const reason = session ? await refusal(res) : null;
  if (!session || !reason) return res;
  const renewed = session.cookie && reason === 'TOKEN_EXPIRED' ? await refreshSession(session) : null;
  if (!renewed) saveSession(null);
  return sendWith(renewed);
}
