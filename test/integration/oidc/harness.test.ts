import * as oidc from 'openid-client';
import {
  beginAuthorization,
  clearOidcDiscoveries,
  completeAuthorization,
  discoverOidc,
  type OidcClientOptions,
} from '../../../src/infra/oidc-client';
import { authorize, startOidcProvider, type TestOidcProvider } from '../../helpers/oidc-provider';

// The SPA's callback: the provider only redirects there, and authorize() stops at that redirect.
const REDIRECT_URI = 'http://localhost:5173/callback';

let provider: TestOidcProvider;
const clientOptions = (p: TestOidcProvider = provider): OidcClientOptions => ({
  issuer: p.issuer,
  clientId: p.clientId,
  clientSecret: p.clientSecret,
});

beforeAll(async () => {
  provider = await startOidcProvider({ redirectUris: [REDIRECT_URI] });
});
afterAll(() => provider?.stop());

/** Discovery, authorization URL, login and consent at the provider: the callback and what redeems it. */
async function signIn(login: string, config?: oidc.Configuration) {
  config ??= await discoverOidc(clientOptions());
  const { url, pending } = await beginAuthorization(config, REDIRECT_URI);
  const callback = await authorize(url, { login });
  return { config, url, pending, callback };
}

/**
 * openid-client's messages are generic ("invalid response encountered"); what failed is in the
 * cause (oauth4webapi's error), and a provider's OAuth error in `error`.
 */
async function failure(promise: Promise<unknown>): Promise<{ message: string; cause?: string; error?: string }> {
  const error = await promise.then(
    () => {
      throw new Error('expected a failure');
    },
    (e: { message: string; cause?: { message?: string }; error?: string }) => e,
  );
  return { message: error.message, cause: error.cause?.message, error: error.error };
}

describe('test OpenID Connect provider and the openid-client spike', () => {
  it('discovers the provider over http on loopback, once', async () => {
    const config = await discoverOidc(clientOptions());
    expect(config.serverMetadata()).toMatchObject({
      issuer: provider.issuer,
      authorization_response_iss_parameter_supported: true,
      code_challenge_methods_supported: ['S256'],
    });
    expect(await discoverOidc(clientOptions())).toBe(config);
  });

  it('signs alice in: code flow with PKCE S256, state, nonce and iss; her claims are in the verified ID token', async () => {
    const { config, url, pending, callback } = await signIn('alice');
    expect(url.searchParams.get('code_challenge_method')).toBe('S256');
    expect(callback).toMatchObject({ state: pending.state, iss: provider.issuer, error: undefined });
    expect(callback.url.origin + callback.url.pathname).toBe(REDIRECT_URI);
    expect(callback.code).toEqual(expect.any(String));

    const claims = await completeAuthorization(config, callback.url, pending);
    expect(claims).toMatchObject({
      sub: 'alice',
      email: 'alice@example.test',
      email_verified: true,
      name: 'Alice Example',
      iss: provider.issuer,
      aud: provider.clientId,
      nonce: pending.nonce,
    });

    // A code is good once: the provider refuses it the second time.
    await expect(completeAuthorization(config, callback.url, pending)).rejects.toMatchObject({
      error: 'invalid_grant',
    });
  });

  it("tells bob's unverified address apart, and carol has none", async () => {
    const bob = await signIn('bob');
    expect(await completeAuthorization(bob.config, bob.callback.url, bob.pending)).toMatchObject({
      sub: 'bob',
      email: 'bob@example.test',
      email_verified: false,
    });
    const carol = await signIn('carol');
    const claims = await completeAuthorization(carol.config, carol.callback.url, carol.pending);
    expect(claims).toMatchObject({ sub: 'carol', name: 'Carol No-Email' });
    expect(claims).not.toHaveProperty('email');
  });

  it('refuses a callback with the wrong state or iss, a wrong PKCE verifier and a wrong nonce', async () => {
    const { config, pending, callback } = await signIn('alice');
    // Checked by openid-client before the code is sent anywhere.
    expect(
      await failure(completeAuthorization(config, callback.url, { ...pending, state: oidc.randomState() })),
    ).toEqual({
      message: 'invalid response encountered',
      cause: 'unexpected "state" response parameter value',
    });
    const forged = new URL(callback.url);
    forged.searchParams.set('iss', 'http://127.0.0.1:1');
    expect(await failure(completeAuthorization(config, forged, pending))).toMatchObject({
      cause: 'unexpected "iss" (issuer) response parameter value',
    });
    forged.searchParams.delete('iss');
    expect(await failure(completeAuthorization(config, forged, pending))).toMatchObject({
      cause: 'response parameter "iss" (issuer) missing',
    });
    // Checked by the provider at the token endpoint.
    await expect(
      completeAuthorization(config, callback.url, { ...pending, codeVerifier: oidc.randomPKCECodeVerifier() }),
    ).rejects.toMatchObject({ error: 'invalid_grant' });

    const other = await signIn('alice', config);
    expect(
      await failure(completeAuthorization(config, other.callback.url, { ...other.pending, nonce: oidc.randomNonce() })),
    ).toEqual({ message: 'unexpected JWT claim value encountered', cause: 'unexpected ID Token "nonce" claim value' });
  });

  it('verifies the ID token signature against the provider JWKS', async () => {
    clearOidcDiscoveries();
    const config = await discoverOidc(clientOptions());
    clearOidcDiscoveries();
    // A token response whose ID token says it is mallory, keeping the provider's signature of alice's.
    config[oidc.customFetch] = async (url, init) => {
      const response = await fetch(url, init as RequestInit);
      if (url !== config.serverMetadata().token_endpoint) return response;
      const body = (await response.json()) as { id_token: string };
      const [header, payload, signature] = body.id_token.split('.');
      const claims = { ...JSON.parse(Buffer.from(payload, 'base64url').toString()), sub: 'mallory' };
      body.id_token = [header, Buffer.from(JSON.stringify(claims)).toString('base64url'), signature].join('.');
      return new Response(JSON.stringify(body), { status: response.status, headers: response.headers });
    };
    const { pending, callback } = await signIn('alice', config);
    expect(await failure(completeAuthorization(config, callback.url, pending))).toMatchObject({
      message: 'invalid response encountered',
      cause: 'JWT signature verification failed',
    });
  });

  it('requires PKCE S256 of the confidential client', async () => {
    const config = await discoverOidc(clientOptions());
    const state = oidc.randomState();
    const params = { redirect_uri: REDIRECT_URI, scope: 'openid', state, nonce: oidc.randomNonce() };
    const callback = await authorize(oidc.buildAuthorizationUrl(config, params), { login: 'alice' });
    expect(callback).toMatchObject({ error: 'invalid_request', state, iss: provider.issuer, code: undefined });
    expect(callback.url.searchParams.get('error_description')).toMatch(/PKCE/);
  });

  it('sends the user back with access_denied, state and iss when consent is refused', async () => {
    const config = await discoverOidc(clientOptions());
    const { url, pending } = await beginAuthorization(config, REDIRECT_URI);
    const callback = await authorize(url, { login: 'alice', consent: 'deny' });
    expect(callback).toMatchObject({ error: 'access_denied', state: pending.state, iss: provider.issuer });
    expect(await failure(completeAuthorization(config, callback.url, pending))).toMatchObject({
      error: 'access_denied',
    });
  });

  it('verifies tokens signed with a rotated key once the key set is fetched again', async () => {
    const config = await discoverOidc(clientOptions());
    await signIn('alice', config).then((s) => completeAuthorization(config, s.callback.url, s.pending));
    const kid = await provider.rotateKeys();

    // openid-client fetches the key set again for an unknown kid only when its copy is 60 s old:
    // a Configuration that fetched the keys just now refuses the new key for up to a minute.
    const early = await signIn('alice', config);
    expect((await failure(completeAuthorization(config, early.callback.url, early.pending))).cause).toMatch(
      /no applicable keys found/,
    );

    clearOidcDiscoveries();
    const fresh = await signIn('alice');
    expect(fresh.config).not.toBe(config);
    await expect(completeAuthorization(fresh.config, fresh.callback.url, fresh.pending)).resolves.toMatchObject({
      sub: 'alice',
    });
    expect(kid).toEqual(expect.any(String));
  });

  it("puts only sub in the ID token when the provider keeps the scope's claims for userinfo", async () => {
    const strict = await startOidcProvider({ redirectUris: [REDIRECT_URI], idTokenClaims: 'userinfo' });
    try {
      const config = await discoverOidc(clientOptions(strict));
      const { url, pending } = await beginAuthorization(config, REDIRECT_URI);
      const callback = await authorize(url, { login: 'alice' });
      const tokens = await oidc.authorizationCodeGrant(config, callback.url, {
        pkceCodeVerifier: pending.codeVerifier,
        expectedState: pending.state,
        expectedNonce: pending.nonce,
        idTokenExpected: true,
      });
      expect(tokens.claims()).not.toHaveProperty('email');
      await expect(oidc.fetchUserInfo(config, tokens.access_token, 'alice')).resolves.toMatchObject({
        sub: 'alice',
        email: 'alice@example.test',
        email_verified: true,
      });
    } finally {
      await strict.stop();
    }
  });

  it('fails discovery with a clear error once the provider is stopped', async () => {
    const gone = await startOidcProvider({ redirectUris: [REDIRECT_URI] });
    await gone.stop();
    const error = await failure(discoverOidc(clientOptions(gone)));
    expect(error.message).toMatch(
      new RegExp(`^OIDC discovery of ${gone.issuer} failed: something went wrong: fetch failed: .*ECONNREFUSED`),
    );
  });
});
