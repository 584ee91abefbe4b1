import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { Secret, TOTP } from 'otpauth';
import type { Browser, Page, WebSocket as PageSocket } from 'playwright-core';
import { launchChromium } from '../../helpers/browser';
import { buildBundles } from '../../helpers/bundles';
import { startTestServer, type TestServer } from '../../helpers/server';

const ROOT = path.resolve(__dirname, '..', '..', '..');
const ARTIFACTS = path.join(ROOT, 'test', 'artifacts');

describe('the GraphiQL playground', () => {
  let api: TestServer;
  const email = `playground-${Date.now()}@example.com`;
  const password = 'Playground-Horse-Battery-7';
  let userId = '';
  let accessToken = '';

  beforeAll(async () => {
    await buildBundles();
    api = await startTestServer();
    const res = await api.gql('mutation($i: RegisterInput!) { register(input: $i) { accessToken user { id } } }', {
      i: { email, password },
    });
    userId = res.body.data!.register.user.id;
    accessToken = res.body.data!.register.accessToken;
    await api.gql('mutation { createItem(input: { name: "Playground lamp" }) { id } }', undefined, {
      authorization: `Bearer ${accessToken}`,
    });
  }, 60_000);
  afterAll(() => api.stop());

  it('is served at /playground and to browsers at GET /graphql, from the server itself', async () => {
    for (const url of [`${api.url}/playground`, `${api.url}/graphql`]) {
      const res = await fetch(url, { headers: { accept: 'text/html,application/xhtml+xml' } });
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/text\/html/);
      const html = await res.text();
      expect(html).toContain('/playground/assets/main.js');
      expect(html).not.toMatch(/https?:\/\//);
    }
    const script = await fetch(`${api.url}/playground/assets/main.js`);
    expect(script.status).toBe(200);
  });

  it('leaves GraphQL requests over GET to Apollo', async () => {
    const res = await fetch(`${api.url}/graphql?query=${encodeURIComponent('{ me { id } }')}`, {
      headers: { accept: 'application/json', 'apollo-require-preflight': 'true' },
    });
    expect(await res.json()).toEqual({ data: { me: null } });
  });

  describe('in a real browser (headless Chromium)', () => {
    let browser: Browser;

    beforeAll(async () => {
      browser = await launchChromium();
    }, 60_000);
    afterAll(() => browser?.close());

    it('asks for a code when the account has two-factor sign-in on, and signs in with it', async () => {
      const mfaEmail = `playground-mfa-${Date.now()}@example.com`;
      const reg = await api.gql('mutation($i: RegisterInput!) { register(input: $i) { accessToken } }', {
        i: { email: mfaEmail, password },
      });
      const auth = { authorization: `Bearer ${reg.body.data!.register.accessToken}` };
      const begun = await api.gql(
        'mutation($p: String!) { beginTotpSetup(currentPassword: $p) { secret } }',
        { p: password },
        auth,
      );
      const secret: string = begun.body.data!.beginTotpSetup.secret;
      // The previous step's code turns TOTP on, so the current one is still unused for the sign-in.
      const previous = TOTP.generate({ secret: Secret.fromBase32(secret), timestamp: Date.now() - 30_000 });
      const confirmed = await api.gql('mutation($c: String!) { confirmTotpSetup(code: $c) }', { c: previous }, auth);
      expect(confirmed.body.data!.confirmTotpSetup).toHaveLength(10);

      const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
      await page.goto(`${api.url}/playground?query=${encodeURIComponent('{ me { email totpEnabled } }')}`);
      await page.fill('input[name=email]', mfaEmail);
      await page.fill('input[name=password]', password);
      await page.click('button[type=submit]');
      await page.waitForSelector('input[name=totpCode]');
      expect(await page.locator('[data-testid=signed-in]').count()).toBe(0);
      await page.fill('input[name=totpCode]', TOTP.generate({ secret: Secret.fromBase32(secret) }));
      await page.click('button[type=submit]');
      await page.waitForSelector('[data-testid=signed-in]');
      await page.click('.graphiql-execute-button');
      const result = page.locator('.result-window');
      await result.getByText(mfaEmail).waitFor({ timeout: 15_000 });
      expect(await result.innerText()).toContain('"totpEnabled": true');
      await page.close();
    }, 60_000);

    it('signs in, runs { me { email role } } with the Authorization header, and requests no other host', async () => {
      const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
      const hosts = new Set<string>();
      page.on('request', (req) => {
        const url = new URL(req.url());
        if (url.protocol === 'http:' || url.protocol === 'https:') hosts.add(url.host);
      });
      const query = '{ me { email role } }';
      await page.goto(`${api.url}/playground?query=${encodeURIComponent(query)}`);
      await page.fill('input[name=email]', email);
      await page.fill('input[name=password]', password);
      await page.click('button[type=submit]');
      await page.waitForSelector('[data-testid=signed-in]');
      await page.click('.graphiql-execute-button');
      const result = page.locator('.result-window');
      await result.getByText(email).waitFor({ timeout: 15_000 });
      const text = await result.innerText();
      expect(text).toContain(`"email": "${email}"`);
      expect(text).toContain('"role": "USER"');

      // The schema docs come from introspection, in GraphiQL's documentation explorer.
      await page.click('[aria-label="Show Documentation Explorer"]');
      await page.getByText('Root Types').waitFor();
      await page.locator('.graphiql-doc-explorer').getByText('Mutation').first().waitFor();

      await mkdir(ARTIFACTS, { recursive: true });
      await page.screenshot({ path: path.join(ARTIFACTS, 'playground.png') });
      expect([...hosts]).toEqual([new URL(api.url).host]);
      await page.close();
    }, 60_000);

    it('runs a subscription over graphql-ws with the signed-in token: a mutation made over HTTP appears', async () => {
      const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
      const sockets = watchSockets(page);
      const violations: string[] = [];
      page.on('console', (msg) => {
        if (/Content Security Policy/i.test(msg.text())) violations.push(msg.text());
      });
      await page.goto(`${api.url}/playground?query=${encodeURIComponent('subscription { itemEvents { type id } }')}`);
      await page.fill('input[name=email]', email);
      await page.fill('input[name=password]', password);
      await page.click('button[type=submit]');
      await page.waitForSelector('[data-testid=signed-in]');
      await page.click('.graphiql-execute-button');

      const id = await createUntilShown(page, api, async () => `Bearer ${accessToken}`);
      const text = await page.locator('.result-window').innerText();
      expect(text).toContain('"type": "CREATED"');
      expect(text).toContain(`"id": "${id}"`);
      // One socket to this server's /graphql (CSP connect-src 'self' covers ws: in Chromium), whose
      // connection_init carried the token the playground holds.
      expect(sockets.map((s) => s.url)).toEqual([`${api.url.replace(/^http/, 'ws')}/graphql`]);
      const stored = await page.evaluate("sessionStorage.getItem('playground.accessToken')");
      const session = JSON.parse(stored as string) as { token: string };
      expect(sockets[0]!.sent[0]).toEqual({
        type: 'connection_init',
        payload: { authorization: `Bearer ${session.token}` },
      });
      expect(violations).toEqual([]);
      await page.close();
    }, 60_000);

    it('opens with a query that shows me as a User and item owners as a PublicUser', async () => {
      const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
      await page.goto(`${api.url}/playground`);
      await page.fill('input[name=email]', email);
      await page.fill('input[name=password]', password);
      await page.click('button[type=submit]');
      await page.waitForSelector('[data-testid=signed-in]');
      await page.click('.graphiql-execute-button');
      const result = page.locator('.result-window');
      await result.getByText('Playground lamp').waitFor({ timeout: 15_000 });
      const text = await result.innerText();
      expect(text).toContain(`"email": "${email}"`);
      expect(text).toContain(`"id": "${userId}"`);
      expect(text).not.toContain('"errors"');
      await page.close();
    }, 60_000);

    it('has an organization walk-through tab, opened first with its token by an invitation link', async () => {
      const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
      await page.goto(`${api.url}/playground`);
      await page.locator('.graphiql-tab').nth(1).waitFor();
      expect(await page.locator('.graphiql-tab').allInnerTexts()).toEqual(['Start', 'CreateTeam']);

      const invited = await browser.newPage({ viewport: { width: 1280, height: 800 } });
      await invited.goto(`${api.url}/playground?invitation=invitation-token-123`);
      await invited.locator('.graphiql-tab').nth(1).waitFor();
      expect(await invited.locator('.graphiql-tab').allInnerTexts()).toEqual(['CreateTeam', 'Start']);
      // Every CodeMirror editor's text (evaluated in the page: this file has no DOM types).
      const [query, ...others] = await invited.evaluate<string[]>(
        "[...document.querySelectorAll('.CodeMirror')].map((e) => e.CodeMirror.getValue())",
      );
      expect(query).toContain('mutation AcceptInvitation($token: String!)');
      // The variables editor (GraphiQL keeps the headers and result editors beside it).
      const variables = others.find((text) => text.includes('"orgId"'));
      expect(JSON.parse(variables!)).toMatchObject({ token: 'invitation-token-123' });
      // The token is not left in the address bar (or the history).
      expect(invited.url()).toBe(`${api.url}/playground`);
      await Promise.all([page.close(), invited.close()]);
    }, 60_000);
  });
});

describe('a playground session outliving its access token (ACCESS_TOKEN_TTL=2)', () => {
  let api: TestServer;
  let browser: Browser;
  const email = `playground-ttl-${Date.now()}@example.com`;
  const password = 'Playground-Horse-Battery-8';
  beforeAll(async () => {
    api = await startTestServer({ ACCESS_TOKEN_TTL: '2' });
    await api.gql('mutation($i: RegisterInput!) { register(input: $i) { accessToken } }', { i: { email, password } });
    browser = await launchChromium();
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await api.stop();
  });
  // localhost, not 127.0.0.1: the browser keeps Secure cookies from http://localhost.
  const origin = () => api.url.replace('127.0.0.1', 'localhost');

  async function signIn(query: string) {
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    await page.goto(`${origin()}/playground?query=${encodeURIComponent(query)}`);
    await page.fill('input[name=email]', email);
    await page.fill('input[name=password]', password);
    await page.click('button[type=submit]');
    await page.waitForSelector('[data-testid=signed-in]');
    return page;
  }

  it('renews the expired token from the cookie: the query succeeds, signed in, and the docs load after a reload', async () => {
    const page = await signIn('{ me { email } }');
    await new Promise((r) => setTimeout(r, 3000));
    await page.click('.graphiql-execute-button');
    const result = page.locator('.result-window');
    await result.getByText(email).waitFor({ timeout: 15_000 });
    expect(await result.innerText()).not.toContain('"errors"');
    await page.waitForSelector('[data-testid=signed-in]');

    await new Promise((r) => setTimeout(r, 3000));
    await page.reload();
    await page.waitForSelector('[data-testid=signed-in]');
    await page.click('[aria-label="Show Documentation Explorer"]');
    await page.getByText('Root Types').waitFor({ timeout: 15_000 });
    await page.close();
  }, 60_000);

  it('a subscription cut with 4401 TOKEN_EXPIRED runs again with a token renewed from the cookie', async () => {
    const page = await signIn('subscription { itemEvents { type id } }');
    const sockets = watchSockets(page);
    const refreshes: string[] = [];
    page.on('request', (req) => {
      if (req.postData()?.includes('refreshToken')) refreshes.push(req.url());
    });
    await page.click('.graphiql-execute-button');
    // The server closes the socket when the token it was opened with expires (2 s).
    const result = page.locator('.result-window');
    await result.getByText('Socket closed with event 4401 TOKEN_EXPIRED').first().waitFor({ timeout: 15_000 });
    expect(sockets).toHaveLength(1);
    expect(sockets[0]!.closed).toBe(true);
    expect(refreshes).toEqual([]);

    await page.click('.graphiql-execute-button');
    // A fresh token for each mutation: they live 2 s too.
    const login = async () => {
      const res = await api.gql('mutation($i: LoginInput!) { login(input: $i) { accessToken } }', {
        i: { email, password },
      });
      return `Bearer ${res.body.data!.login.accessToken}`;
    };
    const id = await createUntilShown(page, api, login, sockets);
    expect(refreshes).toHaveLength(1);
    expect(sockets).toHaveLength(2);
    // The second socket went out with the renewed token, not the expired one.
    const tokenOf = (s: SocketLog) => (s.sent[0] as { payload: { authorization: string } }).payload.authorization;
    expect(tokenOf(sockets[1]!)).not.toBe(tokenOf(sockets[0]!));
    expect(sockets[1]!.received.some((m) => JSON.stringify(m).includes(id))).toBe(true);
    await page.waitForSelector('[data-testid=signed-in]');
    await page.close();
  }, 60_000);

  it('signs out visibly when the session cannot be renewed, and runs the query anonymously', async () => {
    const page = await signIn('{ me { email } }');
    // End every session of the user from elsewhere.
    const other = await api.gql('mutation($i: LoginInput!) { login(input: $i) { accessToken } }', {
      i: { email, password },
    });
    await api.gql('mutation { logoutAll }', undefined, {
      authorization: `Bearer ${other.body.data!.login.accessToken}`,
    });
    await new Promise((r) => setTimeout(r, 3000));
    await page.click('.graphiql-execute-button');
    await page.locator('.result-window').getByText('"me": null').waitFor({ timeout: 15_000 });
    await page.waitForSelector('input[name=email]');
    expect(await page.locator('[data-testid=signed-in]').count()).toBe(0);
    await page.close();
  }, 60_000);
});

describe('the playground when disabled', () => {
  let api: TestServer;
  beforeAll(async () => {
    api = await startTestServer({ PLAYGROUND: 'false' });
  });
  afterAll(() => api.stop());

  it('is not served', async () => {
    const res = await fetch(`${api.url}/playground`, { headers: { accept: 'text/html' } });
    expect(res.status).toBe(404);
  });
});

interface SocketLog {
  url: string;
  sent: unknown[];
  received: unknown[];
  closed: boolean;
}

/** The page's WebSockets and the graphql-ws messages on each, as the browser sent and received them. */
function watchSockets(page: Page): SocketLog[] {
  const logs: SocketLog[] = [];
  page.on('websocket', (socket: PageSocket) => {
    const log: SocketLog = { url: socket.url(), sent: [], received: [], closed: false };
    logs.push(log);
    socket.on('framesent', (frame) => log.sent.push(JSON.parse(String(frame.payload))));
    socket.on('framereceived', (frame) => log.received.push(JSON.parse(String(frame.payload))));
    socket.on('close', () => (log.closed = true));
  });
  return logs;
}

/**
 * Creates items over HTTP until one's event is in GraphiQL's result pane (the subscription is
 * registered on the server a little after GraphiQL sends it) and returns that item's id. With
 * `sockets`, a `next` message on the last socket also counts (a 2-second token may close it first).
 */
async function createUntilShown(
  page: Page,
  api: TestServer,
  authorization: () => Promise<string>,
  sockets?: SocketLog[],
) {
  const result = page.locator('.result-window');
  for (let attempt = 0; attempt < 20; attempt++) {
    const res = await api.gql<{ createItem: { id: string } }>(
      'mutation($i: CreateItemInput!) { createItem(input: $i) { id } }',
      { i: { name: `Live ${attempt}` } },
      { authorization: await authorization() },
    );
    if (!res.body.data?.createItem) throw new Error(`createItem failed: ${JSON.stringify(res.body.errors)}`);
    const id = res.body.data.createItem.id;
    const shown = result.getByText(`"id": "${id}"`).waitFor({ timeout: 1000 });
    const received = async () => {
      for (let i = 0; i < 10; i++) {
        if (sockets?.at(-1)?.received.some((m) => JSON.stringify(m).includes(id))) return;
        await new Promise((r) => setTimeout(r, 100));
      }
      throw new Error('not received');
    };
    const arrived = await Promise.any(sockets ? [shown, received()] : [shown]).then(
      () => true,
      () => false,
    );
    if (arrived) return id;
  }
  throw new Error('no event reached the playground');
}
