/**
 * The OpenID Connect client side (openid-client v6): discovery, the authorization URL with PKCE
 * S256, state and nonce, and redeeming the callback's code for verified ID token claims.
 *
 * openid-client is ESM only. The plain `import` below compiles to `require('openid-client')`:
 * Node (^22.17 || >=24) loads the ES module graph through require(esm), which works because
 * neither openid-client nor oauth4webapi nor jose uses top-level await. Jest's CommonJS registry
 * cannot run ES modules, so jest.config.js transforms exactly those three packages (ts-jest).
 */
import * as oidc from 'openid-client';
import { isLoopback } from '../core/config/oidc';

export interface OidcClientOptions {
  /** The issuer identifier: discovery reads `<issuer>/.well-known/openid-configuration`. */
  issuer: string;
  clientId: string;
  clientSecret: string;
}

/** What the callback needs to redeem the code: kept server-side between the two legs of the flow. */
export interface PendingAuthorization {
  codeVerifier: string;
  state: string;
  nonce: string;
}

/** The only hosts where an http issuer is accepted (tests, local providers). */
export function isLoopbackUrl(url: URL): boolean {
  return isLoopback(url.hostname);
}

/**
 * One discovery per issuer and client for the life of the process. The Configuration it gives
 * also holds openid-client's JWKS cache, so reusing it saves a key fetch per sign-in too (the
 * library fetches the keys again by itself when a token names a key id it has not seen). A
 * failed discovery is not kept: the next attempt tries again.
 */
const discoveries = new Map<string, Promise<oidc.Configuration>>();

export function discoverOidc(options: OidcClientOptions): Promise<oidc.Configuration> {
  const key = JSON.stringify([options.issuer, options.clientId, options.clientSecret]);
  let pending = discoveries.get(key);
  if (!pending) {
    pending = discover(options);
    discoveries.set(key, pending);
    pending.catch(() => discoveries.delete(key));
  }
  return pending;
}

/** Forgets every discovery (tests; a key rotation does not need it). */
export function clearOidcDiscoveries(): void {
  discoveries.clear();
}

async function discover({ issuer, clientId, clientSecret }: OidcClientOptions): Promise<oidc.Configuration> {
  const url = new URL(issuer);
  const insecure = url.protocol === 'http:';
  if (insecure && !isLoopbackUrl(url))
    throw new Error(`OIDC issuer ${issuer}: http is accepted on loopback hosts only, use https`);
  const execute = [
    // By default openid-client v6 checks the ID token's claims but not its signature when it
    // comes straight from the token endpoint over TLS (OIDC Core 3.1.3.7 allows that). This makes
    // it verify the signature against the provider's JWKS too.
    oidc.enableNonRepudiationChecks,
    // openid-client v6 refuses every http request unless the Configuration allows it this way.
    ...(insecure ? [oidc.allowInsecureRequests] : []),
  ];
  try {
    return await oidc.discovery(url, clientId, undefined, oidc.ClientSecretBasic(clientSecret), {
      execute,
      timeout: 10,
    });
  } catch (error) {
    throw new Error(`OIDC discovery of ${issuer} failed: ${reasons(error)}`, { cause: error });
  }
}

/**
 * openid-client's messages are generic ("something went wrong"): the causes say what failed.
 * Not `instanceof Error`: fetch's errors come from another realm under jest.
 */
export function reasons(error: unknown): string {
  const messages: string[] = [];
  for (let e = error as { message?: unknown; code?: unknown; cause?: unknown } | undefined; e;) {
    messages.push(String(e.message || e.code || e));
    e = messages.length < 5 && typeof e.cause === 'object' && e.cause !== null ? e.cause : undefined;
  }
  return messages.join(': ');
}

/** The URL to send the browser to: authorization code flow, PKCE S256, state and nonce. */
export async function beginAuthorization(
  config: oidc.Configuration,
  redirectUri: string,
  scope = 'openid email profile',
): Promise<{ url: URL; pending: PendingAuthorization }> {
  const pending = { codeVerifier: oidc.randomPKCECodeVerifier(), state: oidc.randomState(), nonce: oidc.randomNonce() };
  const url = oidc.buildAuthorizationUrl(config, {
    redirect_uri: redirectUri,
    scope,
    code_challenge: await oidc.calculatePKCECodeChallenge(pending.codeVerifier),
    code_challenge_method: 'S256',
    state: pending.state,
    nonce: pending.nonce,
  });
  return { url, pending };
}

/**
 * Redeems the code of a callback and returns the verified ID token's claims. `callbackUrl` must be
 * the registered redirect URI with the callback's query (openid-client takes redirect_uri from
 * it), not a URL rebuilt from a proxied request. openid-client checks the RFC 9207 `iss`
 * parameter (the provider advertises it), `state`, the ID token's signature (JWKS, see discover),
 * iss, aud, azp, exp, iat and nonce; the provider checks the PKCE verifier.
 */
export async function completeAuthorization(
  config: oidc.Configuration,
  callbackUrl: URL,
  pending: PendingAuthorization,
): Promise<oidc.IDToken> {
  const tokens = await oidc.authorizationCodeGrant(config, callbackUrl, {
    pkceCodeVerifier: pending.codeVerifier,
    expectedState: pending.state,
    expectedNonce: pending.nonce,
    idTokenExpected: true,
  });
  const claims = tokens.claims();
  if (!claims) throw new Error('OIDC token response carried no ID token');
  return claims;
}

/**
 * Whether a failure means the provider could not be reached (refused, reset, timed out, a 5xx),
 * as opposed to the provider or the checks refusing what was presented.
 */
export function isUnreachable(error: unknown): boolean {
  for (let e = error as { status?: unknown; cause?: unknown } | undefined, depth = 0; e && depth < 5; depth++) {
    if (typeof e.status === 'number' && e.status >= 500) return true;
    e = typeof e.cause === 'object' && e.cause !== null ? (e.cause as typeof e) : undefined;
  }
  return /fetch failed|ECONNREFUSED|ECONNRESET|ETIMEDOUT|EHOSTUNREACH|ENOTFOUND|UND_ERR|aborted|timeout/i.test(
    reasons(error),
  );
}
