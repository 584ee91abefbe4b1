import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { Browser, Page, Request } from 'playwright-core';
import { ACCOUNT_PAGES } from '../../../src/http/account-pages';
import { freePort } from '../../../src/infra/ferretdb';
import { bearer, LOGIN, ME, signUp, strongPassword, uniqueEmail } from '../../helpers/auth';
import { codes } from '../../helpers/graphql';
import { startMailbox, type Mailbox, type ReceivedMail } from '../../helpers/mailbox';
import { launchChromium } from '../../helpers/browser';
import { buildBundles } from '../../helpers/bundles';
import { startTestServer, type TestServer } from '../../helpers/server';
import { signUpWithTotp, totpCode } from '../../helpers/totp';

const ROOT = path.resolve(__dirname, '..', '..', '..');
const ARTIFACTS = path.join(ROOT, 'test', 'artifacts');

const REQUEST_RESET = 'mutation($e: String!) { requestPasswordReset(email: $e) }';
const REQUEST_CHANGE = 'mutation($e: String!, $p: String!) { requestEmailChange(newEmail: $e, currentPassword: $p) }';
const REGISTER = 'mutation($i: RegisterInput!) { register(input: $i) { accessToken } }';

const to = (address: string, subject?: RegExp) => (m: ReceivedMail) =>
  m.to === address && (!subject || subject.test(m.subject));

/**
 * The real server on a port chosen up front, so PUBLIC_URL can be its own URL and the links in
 * the mail lead back to it.
 */
async function startServerAtPublicUrl(env: Record<string, string>): Promise<TestServer> {
  const port = await freePort();
  return startTestServer({ ...env, PUBLIC_URL: `http://127.0.0.1:${port}` }, undefined, { port });
}

/** The CSP's directives as a map: name → sources. */
function csp(header: string | null): Map<string, string[]> {
  const directives = new Map<string, string[]>();
  for (const part of (header ?? '').split(';')) {
    const [name, ...sources] = part.trim().split(/\s+/);
    if (name) directives.set(name, sources);
  }
  return directives;
}

let mailbox: Mailbox;
let api: TestServer;

beforeAll(async () => {
  await buildBundles();
  mailbox = await startMailbox();
}, 60_000);
afterAll(() => mailbox?.stop());

// One server at a time: mongoose's connection is per test file.
describe('with the playground enabled', () => {
  beforeAll(async () => {
    api = await startServerAtPublicUrl({ SMTP_URL: mailbox.url });
  });
  afterAll(() => api?.stop());

  describe('the account pages over HTTP', () => {
    it.each(ACCOUNT_PAGES)(
      '/account/%s is HTML with a self-only script policy, no referrer and no caching',
      async (page) => {
        const res = await fetch(`${api.url}/account/${page}?token=${'A'.repeat(43)}`);
        expect(res.status).toBe(200);
        expect(res.headers.get('content-type')).toMatch(/^text\/html/);
        const policy = csp(res.headers.get('content-security-policy'));
        expect(policy.get('script-src')).toEqual(["'self'"]);
        expect(policy.get('default-src')).toEqual(["'self'"]);
        expect(policy.get('connect-src')).toEqual(["'self'"]);
        expect(policy.get('style-src')).toEqual(["'self'"]);
        expect(res.headers.get('referrer-policy')).toBe('no-referrer');
        expect(res.headers.get('cache-control')).toBe('no-store');

        const html = await res.text();
        expect(html).toContain(`data-page="${page}"`);
        expect(html).toMatch(/<h1>/);
        // Every script comes from this origin's bundle: none inline, none from elsewhere.
        const scripts = [...html.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/g)];
        expect(scripts.map((s) => [s[1]!.match(/src="([^"]+)"/)?.[1], s[2]!.trim()])).toEqual([
          ['/account/assets/main.js', ''],
        ]);
        expect(html).not.toMatch(/https?:\/\//);
      },
    );

    it('serves the bundle and its stylesheet', async () => {
      const script = await fetch(`${api.url}/account/assets/main.js`);
      expect(script.status).toBe(200);
      expect(script.headers.get('content-type')).toMatch(/javascript/);
      const style = await fetch(`${api.url}/account/assets/main.css`);
      expect(style.status).toBe(200);
      expect(style.headers.get('content-type')).toMatch(/^text\/css/);
    });

    it('answers other paths under /account with the usual 404', async () => {
      const res = await fetch(`${api.url}/account/delete-everything`);
      expect(res.status).toBe(404);
      expect(res.headers.get('content-type')).toMatch(/application\/json/);
    });
  });

  describe('the account pages in a real browser (headless Chromium)', () => {
    let browser: Browser;

    beforeAll(async () => {
      browser = await launchChromium();
    }, 60_000);
    afterAll(() => browser?.close());

    /**
     * A fresh page that records every request it makes, so a test can check that the token in the
     * link only ever travels in the GraphQL body and that nothing goes to another host.
     */
    async function openPage(): Promise<{ page: Page; requests: Request[] }> {
      const page = await browser.newPage({ viewport: { width: 800, height: 600 } });
      const requests: Request[] = [];
      page.on('request', (req) => requests.push(req));
      return { page, requests };
    }

    /** The link's token reached the server only in the JSON body of POST /graphql, with no Referer. */
    async function expectTokenOnlyInBody(requests: Request[], link: URL): Promise<void> {
      const token = link.searchParams.get('token')!;
      const [navigation, ...rest] = requests;
      expect(navigation!.url()).toBe(link.toString());
      const graphql = rest.filter((r) => new URL(r.url()).pathname === '/graphql');
      expect(graphql.length).toBeGreaterThan(0);
      for (const req of rest) {
        expect(new URL(req.url()).origin).toBe(api.url);
        expect(req.url()).not.toContain(token);
        const headers = await req.allHeaders();
        expect(headers.referer).toBeUndefined();
        expect(JSON.stringify(headers)).not.toContain(token);
      }
      for (const req of graphql) {
        expect(req.method()).toBe('POST');
        expect((await req.allHeaders())['content-type']).toBe('application/json');
        expect(JSON.parse(req.postData()!).variables.token).toBe(token);
      }
    }

    it('verify-email: the link from the registration mail verifies the address, once', async () => {
      const user = await signUp(api, uniqueEmail('page-verify'));
      const link = mailbox.link(await mailbox.waitFor(to(user.email, /verif|confirm/i)));
      expect(link.origin + link.pathname).toBe(`${api.url}/account/verify-email`);

      const { page, requests } = await openPage();
      await page.goto(link.toString());
      await page.getByRole('heading', { level: 1 }).waitFor();
      const status = page.getByRole('status');
      await status.getByText(`Your address ${user.email} is verified`).waitFor();
      expect(await page.getByRole('alert').innerText()).toBe('');
      const me = await api.gql('{ me { emailVerified } }', {}, bearer(user.accessToken));
      expect(me.body.data!.me).toEqual({ emailVerified: true });
      await expectTokenOnlyInBody(requests, link);
      await mkdir(ARTIFACTS, { recursive: true });
      await page.screenshot({ path: path.join(ARTIFACTS, 'account-verify-email.png') });

      // The link is single use: opening it again says so.
      await page.reload();
      await page.getByRole('alert').getByText('This link is invalid or has expired').waitFor();
      expect(await status.innerText()).toBe('');
      await page.close();
    }, 60_000);

    it('verify-email: a page opened without a token says the link is incomplete and sends nothing', async () => {
      const { page, requests } = await openPage();
      await page.goto(`${api.url}/account/verify-email`);
      await page
        .getByRole('alert')
        .getByText(/incomplete/)
        .waitFor();
      expect(requests.filter((r) => r.url().endsWith('/graphql'))).toEqual([]);
      await page.close();
    }, 60_000);

    it('reset-password: refuses a mismatch in the page, shows a weak password next to the field, keeps the link, then sets a strong one', async () => {
      const user = await signUp(api, uniqueEmail('page-reset'));
      expect((await api.gql(REQUEST_RESET, { e: user.email })).body.data).toEqual({ requestPasswordReset: true });
      const link = mailbox.link(await mailbox.waitFor(to(user.email, /reset/i)));
      expect(link.origin + link.pathname).toBe(`${api.url}/account/reset-password`);

      const { page, requests } = await openPage();
      await page.goto(link.toString());
      const password = page.getByLabel('New password', { exact: true });
      const confirm = page.getByLabel('Repeat the new password');
      const submit = page.getByRole('button', { name: 'Change password' });

      // A mismatch never reaches the server.
      await password.fill('Quiet-Harbor-one');
      await confirm.fill('Quiet-Harbor-two');
      await submit.click();
      await page.locator('#confirm-password-error').getByText('The two passwords differ').waitFor();
      expect(await confirm.getAttribute('aria-invalid')).toBe('true');
      expect(requests.filter((r) => r.url().endsWith('/graphql'))).toEqual([]);

      // The server refuses a weak password: its message shows next to the field, described by it.
      await password.fill('password123');
      await confirm.fill('password123');
      await submit.click();
      const passwordError = page.locator('#new-password-error');
      await passwordError.waitFor({ state: 'visible' });
      expect((await passwordError.innerText()).length).toBeGreaterThan(0);
      expect(await password.getAttribute('aria-invalid')).toBe('true');
      expect(await password.getAttribute('aria-describedby')).toBe('new-password-error');
      expect(await confirm.getAttribute('aria-invalid')).toBe('false');
      expect(await page.getByRole('alert').innerText()).toBe('');

      // The same link still works.
      const newPassword = strongPassword();
      await password.fill(newPassword);
      await confirm.fill(newPassword);
      await submit.click();
      await page.getByRole('status').getByText('Your password was changed').waitFor();
      expect(await page.locator('#reset-form').isHidden()).toBe(true);
      await page.screenshot({ path: path.join(ARTIFACTS, 'account-reset-password.png') });

      const login = await api.gql(LOGIN, { input: { email: user.email, password: newPassword } });
      expect(login.body.data?.login.user.email).toBe(user.email);
      expect(codes(await api.gql(LOGIN, { input: { email: user.email, password: user.password } }))).toEqual([
        'UNAUTHENTICATED',
      ]);
      // The page asked for the user only: no access or refresh token reached the browser.
      const answers = await Promise.all(
        requests.filter((r) => r.url().endsWith('/graphql')).map(async (r) => (await r.response())!.text()),
      );
      expect(answers.join('\n')).not.toMatch(/accessToken|refreshToken/);
      await expectTokenOnlyInBody(requests, link);
      await page.close();
    }, 60_000);

    it('reset-password: a used link says it is invalid and hides the form', async () => {
      const user = await signUp(api, uniqueEmail('page-reset-used'));
      await api.gql(REQUEST_RESET, { e: user.email });
      const link = mailbox.link(await mailbox.waitFor(to(user.email, /reset/i)));
      const token = link.searchParams.get('token')!;
      const used = await api.gql(
        'mutation($t: String!, $p: String!) { resetPassword(token: $t, newPassword: $p) { tokenType } }',
        { t: token, p: strongPassword() },
      );
      expect(used.body.data).toEqual({ resetPassword: { tokenType: 'Bearer' } });

      const { page } = await openPage();
      await page.goto(link.toString());
      const password = strongPassword();
      await page.getByLabel('New password', { exact: true }).fill(password);
      await page.getByLabel('Repeat the new password').fill(password);
      await page.getByRole('button', { name: 'Change password' }).click();
      await page.getByRole('alert').getByText('This link is invalid or has expired').waitFor();
      expect(await page.locator('#reset-form').isHidden()).toBe(true);
      await page.close();
    }, 60_000);

    it('reset-password: with TOTP on, asks for the code when the server answers MFA_REQUIRED, then resets with it', async () => {
      const user = await signUpWithTotp(api, uniqueEmail('page-reset-totp'));
      await api.gql(REQUEST_RESET, { e: user.email });
      const link = mailbox.link(await mailbox.waitFor(to(user.email, /reset/i)));

      const { page, requests } = await openPage();
      await page.goto(link.toString());
      const codeInput = page.getByLabel('Code from your authenticator app, or a recovery code');
      expect(await codeInput.isHidden()).toBe(true);
      const newPassword = strongPassword();
      await page.getByLabel('New password', { exact: true }).fill(newPassword);
      await page.getByLabel('Repeat the new password').fill(newPassword);
      const submit = page.getByRole('button', { name: 'Change password' });
      await submit.click();

      // The server wants the second factor: the page shows the code field, the link stays usable.
      await codeInput.waitFor({ state: 'visible' });
      expect(await codeInput.getAttribute('aria-invalid')).toBe('true');
      expect(await page.locator('#reset-form').isVisible()).toBe(true);
      // A wrong code is said next to the field.
      await codeInput.fill('000000');
      await submit.click();
      await page.locator('#totp-code-error').getByText('not valid').waitFor();
      await codeInput.fill(await totpCode(user.secret));
      await submit.click();
      await page.getByRole('status').getByText('Your password was changed').waitFor();
      await page.screenshot({ path: path.join(ARTIFACTS, 'account-reset-password-totp.png') });

      const sent = requests.filter((r) => r.url().endsWith('/graphql')).map((r) => JSON.parse(r.postData()!).variables);
      expect(sent.map((v) => v.totpCode ?? null)).toEqual([null, '000000', expect.stringMatching(/^\d{6}$/)]);
      const login = await api.gql(LOGIN, { input: { email: user.email, password: newPassword } });
      expect(login.body.errors![0]!.extensions!.reason).toBe('MFA_REQUIRED');
      await page.close();
    }, 60_000);

    it('confirm-email: the link mailed to the new address switches the email and shows it', async () => {
      const user = await signUp(api, uniqueEmail('page-move'));
      const newEmail = uniqueEmail('page-moved');
      const asked = await api.gql(REQUEST_CHANGE, { e: newEmail, p: user.password }, bearer(user.accessToken));
      expect(asked.body.data).toEqual({ requestEmailChange: true });
      const link = mailbox.link(await mailbox.waitFor(to(newEmail)));
      expect(link.origin + link.pathname).toBe(`${api.url}/account/confirm-email`);

      const { page, requests } = await openPage();
      await page.goto(link.toString());
      await page.getByRole('status').getByText(newEmail).waitFor();
      await page.screenshot({ path: path.join(ARTIFACTS, 'account-confirm-email.png') });
      await expectTokenOnlyInBody(requests, link);

      const login = await api.gql(LOGIN, { input: { email: newEmail, password: user.password } });
      expect(login.body.data?.login.user.email).toBe(newEmail);
      const me = await api.gql(ME, {}, bearer(login.body.data!.login.accessToken));
      expect(me.body.data!.me.email).toBe(newEmail);
      await page.close();
    }, 60_000);

    it('confirm-email: an address taken since the request shows "That address is already in use"', async () => {
      const user = await signUp(api, uniqueEmail('page-clash'));
      const later = uniqueEmail('page-later');
      await api.gql(REQUEST_CHANGE, { e: later, p: user.password }, bearer(user.accessToken));
      const link = mailbox.link(await mailbox.waitFor(to(later)));
      expect(
        (await api.gql(REGISTER, { i: { email: later, password: strongPassword() } })).body.data?.register,
      ).toBeTruthy();

      const { page } = await openPage();
      await page.goto(link.toString());
      await page.getByRole('alert').getByText('That address is already in use').waitFor();
      expect(await page.getByRole('status').innerText()).toBe('');
      expect((await api.gql(ME, {}, bearer(user.accessToken))).body.data!.me.email).toBe(user.email);
      await page.close();
    }, 60_000);
  });
});

describe('the account pages when the playground is disabled', () => {
  let off: TestServer;
  beforeAll(async () => {
    off = await startTestServer({ PLAYGROUND: 'false', MAIL_TRANSPORT: 'log' });
  });
  afterAll(() => off?.stop());

  it('are not served: 404 like any unknown route', async () => {
    for (const url of [...ACCOUNT_PAGES.map((p) => `/account/${p}?token=x`), '/account/assets/main.js']) {
      const res = await fetch(`${off.url}${url}`, { headers: { accept: 'text/html' } });
      expect([url, res.status]).toEqual([url, 404]);
      expect(res.headers.get('content-type')).toMatch(/application\/json/);
    }
  });
});
