import type { Browser } from 'playwright-core';
import { freePort } from '../../../src/infra/ferretdb';
import { launchChromium } from '../../helpers/browser';
import { buildBundles } from '../../helpers/bundles';
import { startOidcProvider, type TestOidcProvider } from '../../helpers/oidc-provider';
import { startTestServer, type TestServer } from '../../helpers/server';

const QUERY = '{ me { email hasPassword } }';

/**
 * The playground's "Sign in with …" buttons against a real OpenID Connect provider: the browser
 * goes to the provider's login and consent pages and back to the playground. The provider needs
 * the redirect URI before the API starts, so the API's port is picked first.
 */
describe('provider sign-in in the playground (headless Chromium, oidc-provider)', () => {
  let provider: TestOidcProvider;
  let api: TestServer;
  let origin = '';
  let browser: Browser;

  beforeAll(async () => {
    await buildBundles();
    const port = await freePort();
    origin = `http://localhost:${port}`;
    provider = await startOidcProvider({ redirectUris: [`${origin}/playground`] });
    api = await startTestServer(
      {
        PUBLIC_URL: origin,
        OIDC_PROVIDERS: 'corp',
        OIDC_CORP_NAME: 'Corp SSO',
        OIDC_CORP_ISSUER: provider.issuer,
        OIDC_CORP_CLIENT_ID: provider.clientId,
        OIDC_CORP_CLIENT_SECRET: provider.clientSecret,
        OIDC_REDIRECT_URIS: `${origin}/playground`,
      },
      undefined,
      { port },
    );
    browser = await launchChromium();
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await api?.stop();
    await provider?.stop();
  });

  /** Opens the playground with QUERY, clicks the provider's button and signs in there as `login`. */
  async function toProvider(login: string) {
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    await page.goto(`${origin}/playground?query=${encodeURIComponent(QUERY)}`);
    await page.getByRole('button', { name: 'Sign in with Corp SSO' }).click();
    await page.waitForURL(`${provider.issuer}/interaction/**`);
    await page.fill('input[name=login]', login);
    await page.click('form[action$="/login"] button');
    return page;
  }

  it('signs in as the provider account, with a clean address bar, and runs the query as that new account', async () => {
    const page = await toProvider('alice');
    await page.getByRole('button', { name: 'Allow' }).click();
    await page.getByTestId('signed-in').getByText('Signed in as alice@example.test').waitFor({ timeout: 15_000 });
    // The callback's code is gone from the address bar; the page's own query string is back.
    const url = new URL(page.url());
    expect(url.origin + url.pathname).toBe(`${origin}/playground`);
    expect(page.url()).not.toContain('code=');
    expect([...url.searchParams.keys()]).toEqual(['query']);
    expect(url.searchParams.get('query')).toBe(QUERY);

    await page.click('.graphiql-execute-button');
    const result = page.locator('.result-window');
    await result.getByText('alice@example.test').waitFor({ timeout: 15_000 });
    // A new account made from the provider's verified email, without a password.
    expect(await result.innerText()).toContain('"hasPassword": false');
    await page.close();
  }, 60_000);

  it("shows the provider's error when the user refuses consent", async () => {
    const page = await toProvider('bob');
    await page.getByRole('button', { name: 'Deny' }).click();
    await page.getByRole('alert').getByText('access_denied: End-User aborted interaction').waitFor({ timeout: 15_000 });
    expect(page.url()).not.toContain('error=');
    expect(await page.getByTestId('signed-in').count()).toBe(0);
    await page.close();
  }, 60_000);
});
