/** Sign-in through the server's OpenID Connect providers: the round trip leaves the page and comes back to it. */
import React, { useEffect, useState } from 'react';
import { fieldOf, post, SIGNED_IN, sessionOf, type Session } from './session';

export interface Provider {
  id: string;
  name: string;
}

/** What the provider's redirect back to the playground brought. */
export type ProviderCallback = { code: string; state: string } | { error: string };

/** The redirect URI the playground sends: the operator lists it in OIDC_REDIRECT_URIS, exactly. */
const redirectUri = () => `${window.location.origin}/playground`;

/**
 * The page's own query string (`query=…`) while the browser is at the provider: the provider
 * comes back to the bare redirect URI, and the page puts it back.
 */
const RETURN_KEY = 'playground.beforeProvider';

/** None when the server has none or the query fails: the buttons are a convenience. */
async function loadProviders(): Promise<Provider[]> {
  try {
    return fieldOf<Provider[]>(await post('query SignInProviders { signInProviders { id name } }'), 'signInProviders');
  } catch {
    return [];
  }
}

// Asked once per page load; the buttons come back after a sign-out without asking again.
let listed: Promise<Provider[]> | undefined;

/** "Sign in with <name>" for each provider of the server; `onStart` clears the bar's messages. */
export function ProviderButtons({ onStart, onError }: { onStart: () => void; onError: (err: Error) => void }) {
  const [providers, setProviders] = useState<Provider[]>([]);
  useEffect(() => {
    void (listed ??= loadProviders()).then(setProviders);
  }, []);
  return (
    <>
      {providers.map((p) => (
        <button
          key={p.id}
          type="button"
          onClick={() => {
            onStart();
            startProviderSignIn(p.id).catch(onError);
          }}
        >
          Sign in with {p.name}
        </button>
      ))}
    </>
  );
}

/** Sends the browser to the provider; it comes back to the playground with code and state. */
async function startProviderSignIn(provider: string): Promise<void> {
  const body = await post(
    'mutation StartProviderSignIn($provider: String!, $redirectUri: String!) { startProviderSignIn(provider: $provider, redirectUri: $redirectUri) { url } }',
    { provider, redirectUri: redirectUri() },
  );
  const { url } = fieldOf<{ url: string }>(body, 'startProviderSignIn');
  sessionStorage.setItem(RETURN_KEY, window.location.search);
  window.location.href = url;
}

/** The same code and state may be sent again with a TOTP code after MFA_REQUIRED. */
export async function finishProviderSignIn(code: string, state: string, totpCode?: string): Promise<Session> {
  const body = await post(
    `mutation FinishProviderSignIn($code: String!, $state: String!, $totpCode: String) { finishProviderSignIn(code: $code, state: $state, totpCode: $totpCode, useCookie: true) ${SIGNED_IN} }`,
    { code, state, totpCode: totpCode || undefined },
  );
  return sessionOf(body, 'finishProviderSignIn');
}

const CALLBACK_PARAMS = ['code', 'state', 'iss', 'error', 'error_description', 'error_uri', 'session_state'];

/**
 * Reads the provider's callback from the address bar and replaces it at once with the query
 * string the page had before (and any other parameters), so the one-time code is neither
 * reloaded, bookmarked nor left in the history.
 */
export function takeProviderCallback(): ProviderCallback | null {
  const url = new URL(window.location.href);
  const [code, state, error, description] = ['code', 'state', 'error', 'error_description'].map((name) =>
    url.searchParams.get(name),
  );
  if (!error && !(code && state)) return null;
  for (const name of CALLBACK_PARAMS) url.searchParams.delete(name);
  for (const [name, value] of new URLSearchParams(sessionStorage.getItem(RETURN_KEY) ?? ''))
    if (!url.searchParams.has(name)) url.searchParams.set(name, value);
  sessionStorage.removeItem(RETURN_KEY);
  window.history.replaceState(window.history.state, '', url.href);
  if (error) return { error: description ? `${error}: ${description}` : error };
  return { code: code!, state: state! };
}
