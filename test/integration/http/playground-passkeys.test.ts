import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { Browser, CDPSession, Page } from 'playwright-core';
import { freePort } from '../../../src/infra/ferretdb';
import { bearer, signUp } from '../../helpers/auth';
import { launchChromium } from '../../helpers/browser';
import { buildBundles } from '../../helpers/bundles';
import { startMailbox, type Mailbox } from '../../helpers/mailbox';
import { startTestServer, type TestServer } from '../../helpers/server';
import { signUpWithTotp, totpCode } from '../../helpers/totp';

const ROOT = path.resolve(__dirname, '..', '..', '..');
const ARTIFACTS = path.join(ROOT, 'test', 'artifacts');
const PASSKEYS = '{ passkeys { name lastUsedAt } }';

/**
 * Chromium's virtual authenticator (DevTools protocol): a platform authenticator that keeps
 * discoverable credentials and verifies the user without a prompt, answering the page's real
 * navigator.credentials calls.
 */
async function virtualAuthenticator(page: Page): Promise<{ cdp: CDPSession; authenticatorId: string }> {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('WebAuthn.enable');
  const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: {
      protocol: 'ctap2',
      transport: 'internal',
      hasResidentKey: true,
      hasUserVerification: true,
      isUserVerified: true,
      automaticPresenceSimulation: true,
    },
  });
  return { cdp, authenticatorId };
}

/**
 * WebAuthn needs a secure context and a domain as the RP ID (an IP address is not one), so the
 * server's PUBLIC_URL, and the page, are http://localhost:<port>: RP ID localhost, that origin.
 */
describe('passkeys in the playground (headless Chromium, virtual authenticator)', () => {
  let api: TestServer;
  let origin = '';
  let browser: Browser;
  let mailbox: Mailbox;

  beforeAll(async () => {
    await buildBundles();
    mailbox = await startMailbox();
    const port = await freePort();
    origin = `http://localhost:${port}`;
    api = await startTestServer({ PUBLIC_URL: origin, SMTP_URL: mailbox.url }, undefined, { port });
    browser = await launchChromium();
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await api?.stop();
    await mailbox?.stop();
  });

  async function openSignedIn(email: string, password: string, secret?: string) {
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    const authenticator = await virtualAuthenticator(page);
    await page.goto(`${origin}/playground?query=${encodeURIComponent('{ me { email } }')}`);
    await page.fill('input[name=email]', email);
    await page.fill('input[name=password]', password);
    await page.click('button[type=submit]');
    if (secret) {
      await page.fill('input[name=totpCode]', await totpCode(secret));
      await page.click('button[type=submit]');
    }
    await page.waitForSelector('[data-testid=signed-in]');
    return { page, ...authenticator };
  }

  it('adds a passkey after re-entering the password, then signs in with it and runs { me { email } }', async () => {
    const user = await signUp(api);
    const { page, cdp, authenticatorId } = await openSignedIn(user.email, user.password);
    const hosts = new Set<string>();
    page.on('request', (req) => {
      const url = new URL(req.url());
      if (url.protocol === 'http:' || url.protocol === 'https:') hosts.add(url.host);
    });

    await page.getByRole('button', { name: 'Add a passkey' }).click();
    await page.fill('input[name=reauthPassword]', user.password);
    await page.fill('input[name=passkeyName]', 'Test laptop');
    await page.getByRole('button', { name: 'Confirm and add' }).click();
    await page.getByTestId('passkey-status').getByText('Passkey "Test laptop" added').waitFor();

    const { credentials } = await cdp.send('WebAuthn.getCredentials', { authenticatorId });
    expect(credentials).toHaveLength(1);
    expect(credentials[0]).toMatchObject({ isResidentCredential: true, rpId: 'localhost' });
    const stored = await api.gql(PASSKEYS, undefined, bearer(user.accessToken));
    expect(stored.body.data!.passkeys).toEqual([{ name: 'Test laptop', lastUsedAt: null }]);

    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.waitForSelector('input[name=email]');
    await page.getByRole('button', { name: 'Sign in with a passkey' }).click();
    await page.getByTestId('signed-in').getByText(`Signed in as ${user.email}`).waitFor();

    await page.click('.graphiql-execute-button');
    const result = page.locator('.result-window');
    await result.getByText(user.email).waitFor({ timeout: 15_000 });
    expect(await result.innerText()).not.toContain('"errors"');
    // The sign-in used the passkey (the server records it) and the authenticator counted it.
    const used = await api.gql(PASSKEYS, undefined, bearer(user.accessToken));
    expect(used.body.data!.passkeys[0].lastUsedAt).toEqual(expect.any(String));
    const after = await cdp.send('WebAuthn.getCredentials', { authenticatorId });
    expect(after.credentials[0]!.signCount).toBeGreaterThan(credentials[0]!.signCount);

    await mkdir(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: path.join(ARTIFACTS, 'playground-passkeys.png') });
    expect([...hosts]).toEqual([new URL(origin).host]);
    await page.close();
  }, 60_000);

  it('asks for a TOTP code too when re-authenticating an account with two-factor sign-in on', async () => {
    const user = await signUpWithTotp(api);
    const { page, cdp, authenticatorId } = await openSignedIn(user.email, user.password, user.secret);

    await page.getByRole('button', { name: 'Add a passkey' }).click();
    await page.fill('input[name=reauthPassword]', user.password);
    await page.getByRole('button', { name: 'Confirm and add' }).click();
    await page.getByTestId('passkey-status').getByText('Enter the code from your authenticator app').waitFor();
    expect((await cdp.send('WebAuthn.getCredentials', { authenticatorId })).credentials).toEqual([]);
    // The sign-in spent the current step's code: a recovery code proves the second factor instead.
    await page.fill('input[name=reauthTotpCode]', user.recoveryCodes[0]!);
    await page.getByRole('button', { name: 'Confirm and add' }).click();
    await page
      .getByTestId('passkey-status')
      .getByText(/^Passkey ".+" added$/)
      .waitFor();
    expect((await cdp.send('WebAuthn.getCredentials', { authenticatorId })).credentials).toHaveLength(1);
    const stored = await api.gql(PASSKEYS, undefined, bearer(user.accessToken));
    expect(stored.body.data!.passkeys).toHaveLength(1);
    await page.close();
  }, 60_000);

  it('signs in with a code emailed from the sign-in bar', async () => {
    const user = await signUp(api);
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    await page.goto(`${origin}/playground?query=${encodeURIComponent('{ me { email emailVerified } }')}`);
    await page.fill('input[name=email]', user.email);
    await page.getByRole('button', { name: 'Email me a code' }).click();
    const mail = await mailbox.waitFor((m) => m.to === user.email && /sign-in code/i.test(m.subject));
    const code = /code is (\d{6})\b/.exec(mail.text)![1]!;
    await page.fill('input[name=emailCode]', code);
    await page.getByRole('button', { name: 'Sign in with the code' }).click();
    await page.getByTestId('signed-in').getByText(`Signed in as ${user.email}`).waitFor();
    await page.click('.graphiql-execute-button');
    const result = page.locator('.result-window');
    await result.getByText(user.email).waitFor({ timeout: 15_000 });
    // The code proved the address.
    expect(await result.innerText()).toContain('"emailVerified": true');
    await page.close();
  }, 60_000);
});
