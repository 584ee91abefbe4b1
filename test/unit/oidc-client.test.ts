import * as oidc from 'openid-client';
import { beginAuthorization, discoverOidc, isLoopbackUrl } from '../../src/infra/oidc-client';

// openid-client v6 and its dependencies are ES modules only: these run only because jest.config.js
// compiles them to CommonJS (in production Node's require(esm) loads them).
describe('oidc-client (spike: openid-client v6 from CommonJS)', () => {
  it('accepts http issuers on loopback hosts only', async () => {
    for (const url of ['http://127.0.0.1:4000', 'http://127.1.2.3/x', 'http://localhost:1', 'http://[::1]:8080'])
      expect(isLoopbackUrl(new URL(url))).toBe(true);
    for (const url of ['http://example.com', 'http://10.0.0.1', 'http://127.0.0.1.example.com', 'http://[::2]'])
      expect(isLoopbackUrl(new URL(url))).toBe(false);
    await expect(discoverOidc({ issuer: 'http://example.com', clientId: 'c', clientSecret: 's' })).rejects.toThrow(
      'http is accepted on loopback hosts only',
    );
  });

  it('builds an authorization URL with PKCE S256, state and nonce (WebCrypto in the jest realm)', async () => {
    const config = new oidc.Configuration(
      { issuer: 'https://op.test', authorization_endpoint: 'https://op.test/auth' },
      'client-1',
      'secret',
    );
    const { url, pending } = await beginAuthorization(config, 'https://app.test/callback');
    const params = url.searchParams;
    expect(url.origin + url.pathname).toBe('https://op.test/auth');
    expect(Object.fromEntries(params)).toMatchObject({
      client_id: 'client-1',
      response_type: 'code',
      redirect_uri: 'https://app.test/callback',
      scope: 'openid email profile',
      code_challenge_method: 'S256',
      state: pending.state,
      nonce: pending.nonce,
    });
    expect(params.get('code_challenge')).toBe(await oidc.calculatePKCECodeChallenge(pending.codeVerifier));
    expect(pending.codeVerifier).toMatch(/^[\w-]{43}$/);
  });
});
