import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser } from 'playwright-core';
import { launchChromium } from '../../helpers/browser';
import { bearer, LOGIN, ME, signUp } from '../../helpers/auth';
import { startTestServer, type TestServer } from '../../helpers/server';

const LOGIN_COOKIE = 'mutation($i: LoginInput!) { login(input: $i) { accessToken refreshToken } }';
const REFRESH_COOKIE = 'mutation { refreshToken { accessToken refreshToken } }';
const LOGOUT_COOKIE = 'mutation { logout }';

/** A plain page on its own port: another origin for the API. */
async function otherOrigin(): Promise<{ url: string; close(): Promise<void> }> {
  const server = http.createServer((_req, res) =>
    res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>app</title>'),
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://localhost:${port}`, close: () => new Promise((r) => server.close(() => r())) };
}

describe('cookie mode: the refresh token in an httpOnly cookie', () => {
  let t: TestServer;
  let app: Awaited<ReturnType<typeof otherOrigin>>;
  beforeAll(async () => {
    app = await otherOrigin();
    t = await startTestServer({ CORS_ORIGINS: app.url, REFRESH_TOKEN_TTL: '3600' });
  });
  afterAll(async () => {
    await t.stop();
    await app.close();
  });

  const post = (query: string, variables: object, headers: Record<string, string>) =>
    fetch(`${t.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify({ query, variables }),
    });
  const cookieOf = (res: Response) => /__Host-refresh_token=([^;]*)/.exec(res.headers.get('set-cookie') ?? '')?.[1];

  describe('over HTTP', () => {
    it('sets __Host-refresh_token (HttpOnly, Secure, SameSite=Strict, Path=/, Max-Age) and answers refreshToken: null', async () => {
      const user = await signUp(t);
      const res = await post(LOGIN_COOKIE, { i: { email: user.email, password: user.password, useCookie: true } }, {});
      const body = (await res.json()) as { data: { login: { accessToken: string; refreshToken: string | null } } };
      expect(body.data.login.refreshToken).toBeNull();
      const header = res.headers.get('set-cookie')!;
      expect(header).toMatch(/^__Host-refresh_token=[A-Za-z0-9_%.-]+;/);
      for (const attribute of ['HttpOnly', 'Secure', 'SameSite=Strict', 'Path=/']) expect(header).toContain(attribute);
      const maxAge = Number(/Max-Age=(\d+)/.exec(header)![1]);
      expect(maxAge).toBeGreaterThan(3590);
      expect(maxAge).toBeLessThanOrEqual(3600);
    });

    it('refreshes from the cookie only with this origin or an allowed one, rotating it; the cookie authenticates nothing else', async () => {
      const user = await signUp(t);
      const login = await post(
        LOGIN_COOKIE,
        { i: { email: user.email, password: user.password, useCookie: true } },
        {},
      );
      const cookie = `__Host-refresh_token=${cookieOf(login)}`;
      // Not another site, and not without an Origin (a cross-site form or a script elsewhere).
      for (const origin of [{ origin: 'https://evil.example' }, {}] as Array<Record<string, string>>) {
        const refused = await post(REFRESH_COOKIE, {}, { cookie, ...origin });
        const body = (await refused.json()) as { errors: Array<{ extensions: { code: string } }> };
        expect(body.errors.map((e) => e.extensions.code)).toEqual(['FORBIDDEN']);
      }
      // The cookie alone signs nobody in.
      const me = (await (await post(ME, {}, { cookie, origin: t.url })).json()) as { data: { me: unknown } };
      expect(me.data.me).toBeNull();
      const ok = await post(REFRESH_COOKIE, {}, { cookie, origin: app.url });
      const body = (await ok.json()) as {
        data: { refreshToken: { accessToken: string; refreshToken: string | null } };
      };
      expect(body.data.refreshToken.refreshToken).toBeNull();
      expect(cookieOf(ok)).toBeTruthy();
      expect(cookieOf(ok)).not.toBe(cookieOf(login));
      expect((await t.gql(ME, {}, bearer(body.data.refreshToken.accessToken))).body.data!.me.id).toBe(user.user.id);
    });

    it('logout with the cookie ends the session and clears the cookie', async () => {
      const user = await signUp(t);
      const login = await post(
        LOGIN_COOKIE,
        { i: { email: user.email, password: user.password, useCookie: true } },
        {},
      );
      const cookie = `__Host-refresh_token=${cookieOf(login)}`;
      const out = await post(LOGOUT_COOKIE, {}, { cookie, origin: t.url });
      expect(await out.json()).toEqual({ data: { logout: true } });
      expect(out.headers.get('set-cookie')).toMatch(/__Host-refresh_token=;.*(Expires=Thu, 01 Jan 1970|Max-Age=0)/);
      const again = await post(REFRESH_COOKIE, {}, { cookie, origin: t.url });
      expect(
        ((await again.json()) as { errors: Array<{ extensions: { code: string } }> }).errors[0]!.extensions.code,
      ).toBe('UNAUTHENTICATED');
    });
  });

  describe('in a real browser (headless Chromium)', () => {
    let browser: Browser;
    beforeAll(async () => {
      browser = await launchChromium();
    }, 60_000);
    afterAll(() => browser?.close());

    /** Signs in with useCookie from a page of `pageUrl`, refreshes twice from the cookie, then logs out. */
    async function flow(pageUrl: string, api: string) {
      const user = await signUp(t);
      const page = await browser.newPage();
      await page.goto(pageUrl);
      const result = await page.evaluate(
        async ({ api, email, password }) => {
          const call = async (query: string, variables?: object, token?: string): Promise<any> => {
            const res = await fetch(`${api}/graphql`, {
              method: 'POST',
              credentials: 'include',
              headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
              body: JSON.stringify({ query, variables }),
            });
            return res.json();
          };
          const login = await call('mutation($i: LoginInput!) { login(input: $i) { accessToken refreshToken } }', {
            i: { email, password, useCookie: true },
          });
          const first = await call('mutation { refreshToken { accessToken refreshToken } }');
          const second = await call('mutation { refreshToken { accessToken refreshToken } }');
          const me = await call('{ me { id } }', undefined, second.data?.refreshToken?.accessToken);
          const out = await call('mutation { logout }');
          const after = await call('mutation { refreshToken { accessToken } }');
          const visible = (globalThis as unknown as { document: { cookie: string } }).document.cookie;
          return { login, first, second, me, out, after, visible };
        },
        { api, email: user.email, password: user.password },
      );
      await page.close();
      return { user, result };
    }

    it.each([
      [
        'same-origin',
        () => [`${t.url.replace('127.0.0.1', 'localhost')}/health`, t.url.replace('127.0.0.1', 'localhost')],
      ],
      [
        'cross-origin (a page on another port, credentials: include)',
        () => [app.url, t.url.replace('127.0.0.1', 'localhost')],
      ],
    ])(
      'keeps the session in the cookie, %s: refresh rotates it, logout clears it, scripts never see it',
      async (_label, urls) => {
        const [pageUrl, api] = urls();
        const { user, result } = await flow(pageUrl!, api!);
        expect(result.login.data.login.refreshToken).toBeNull();
        expect(result.first.data.refreshToken.refreshToken).toBeNull();
        expect(result.second.data.refreshToken.accessToken).toBeTruthy();
        expect(result.me.data.me.id).toBe(user.user.id);
        expect(result.out).toEqual({ data: { logout: true } });
        expect(result.after.errors[0].extensions.code).toBe('UNAUTHENTICATED');
        expect(result.visible).not.toContain('refresh_token');
      },
    );
  });

  it('still answers a LOGIN without useCookie with the refresh token in the body', async () => {
    const user = await signUp(t);
    const res = await t.gql(LOGIN, { input: { email: user.email, password: user.password } });
    expect(res.body.data!.login.refreshToken).toEqual(expect.any(String));
  });
});
