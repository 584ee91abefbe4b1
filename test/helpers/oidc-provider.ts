import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { createInterface, type Interface } from 'node:readline';

/** An account of the test provider; `sub` is also what its login form takes. */
export interface OidcTestAccount {
  sub: string;
  email?: string;
  email_verified?: boolean;
  name?: string;
}

export const OIDC_TEST_ACCOUNTS: OidcTestAccount[] = [
  { sub: 'alice', email: 'alice@example.test', email_verified: true, name: 'Alice Example' },
  { sub: 'bob', email: 'bob@example.test', email_verified: false, name: 'Bob Unverified' },
  { sub: 'carol', name: 'Carol No-Email' },
];

export interface OidcProviderOptions {
  /** The registered client's redirect URIs (any URL: `authorize` never follows the last redirect). */
  redirectUris: string[];
  accounts?: OidcTestAccount[];
  clientId?: string;
  clientSecret?: string;
  /** 'all' (default): email and name in the ID token, as Google does; 'userinfo': only sub, the claims from userinfo. */
  idTokenClaims?: 'all' | 'userinfo';
}

export interface TestOidcProvider {
  /** `http://127.0.0.1:<port>`, no trailing slash: discovery is `<issuer>/.well-known/openid-configuration`. */
  issuer: string;
  clientId: string;
  clientSecret: string;
  accounts: OidcTestAccount[];
  /** Signs with a new key from now on (the old one stays in the JWKS); resolves to the new key id. */
  rotateKeys(): Promise<string>;
  /**
   * Plays a hostile provider: the token endpoint's ID tokens are signed by a stranger's key, or by
   * the provider's own for another audience or nonce, until `off`.
   */
  forgeIdTokens(mode: 'wrong-key' | 'wrong-aud' | 'wrong-nonce' | 'off'): Promise<void>;
  stop(): Promise<void>;
}

const SCRIPT = path.join(__dirname, 'oidc-provider-server.mjs');

/**
 * Starts a real OpenID Connect provider (oidc-provider) on a free loopback port, with one
 * confidential client (client_secret_basic, authorization code flow, PKCE required) and the given
 * accounts. oidc-provider is ESM only, so it runs in a child node; the child exits when its stdin
 * closes, i.e. with this process, crash or not.
 */
export async function startOidcProvider(options: OidcProviderOptions): Promise<TestOidcProvider> {
  const clientId = options.clientId ?? 'test-app';
  const clientSecret = options.clientSecret ?? randomBytes(24).toString('base64url');
  const accounts = options.accounts ?? OIDC_TEST_ACCOUNTS;
  const config = {
    clients: [{ client_id: clientId, client_secret: clientSecret, redirect_uris: options.redirectUris }],
    accounts,
    idTokenClaims: options.idTokenClaims ?? 'all',
  };
  const child = spawn(process.execPath, [SCRIPT, JSON.stringify(config)], {
    cwd: path.join(__dirname, '..', '..'),
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const lines = createInterface({ input: child.stdout });
  const next = nextLine(child, lines, () => stderr);

  const { issuer } = (await next().catch(async (error: unknown) => {
    child.kill('SIGKILL');
    throw error;
  })) as { issuer: string };
  return {
    issuer,
    clientId,
    clientSecret,
    accounts,
    async forgeIdTokens(mode) {
      child.stdin.write(`forge ${mode}\n`);
      await next();
    },
    async rotateKeys() {
      child.stdin.write('rotate\n');
      return ((await next()) as { kid: string }).kid;
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.stdin.end();
        const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
        await exited;
        clearTimeout(timer);
      }
    },
  };
}

/** Reads the child's stdout one JSON line at a time; fails with its stderr if it exits or stays silent. */
function nextLine(child: ChildProcessWithoutNullStreams, lines: Interface, stderr: () => string) {
  const queue: string[] = [];
  let waiter: ((line: string) => void) | undefined;
  lines.on('line', (line) => (waiter ? waiter(line) : queue.push(line)));
  return () =>
    new Promise<unknown>((resolve, reject) => {
      const fail = (why: string) => reject(new Error(`test OIDC provider ${why}\n${stderr()}`));
      const queued = queue.shift();
      if (queued !== undefined) return resolve(JSON.parse(queued));
      if (child.exitCode !== null || child.signalCode !== null) return fail('has exited');
      const timer = setTimeout(() => fail('did not answer in 15 s'), 15_000);
      const onExit = () => fail(`exited (${child.exitCode ?? child.signalCode})`);
      child.once('exit', onExit);
      waiter = (line) => {
        waiter = undefined;
        clearTimeout(timer);
        child.off('exit', onExit);
        resolve(JSON.parse(line));
      };
    });
}

export interface AuthorizeOptions {
  /** The account to sign in as (its `sub`). */
  login: string;
  /** 'allow' (default) or 'deny' at the consent page. */
  consent?: 'allow' | 'deny';
}

export interface AuthorizationCallback {
  /** The full redirect to the client's redirect URI, as the browser would request it. */
  url: URL;
  code?: string;
  state?: string;
  iss?: string;
  error?: string;
}

/**
 * Does what a user's browser does with an authorization URL of the test provider: follows its
 * redirects by hand with a cookie jar, fills in the login form and the consent form, and stops at
 * the redirect that leaves the provider, i.e. the callback to the client's redirect URI, without
 * requesting it.
 */
export async function authorize(
  authorizationUrl: URL | string,
  options: AuthorizeOptions,
): Promise<AuthorizationCallback> {
  const start = new URL(authorizationUrl);
  const jar = new CookieJar();
  let request: { url: URL; form?: URLSearchParams } = { url: start };
  for (let step = 0; step < 20; step++) {
    if (request.url.origin !== start.origin) return callbackOf(request.url);
    const response = await fetch(request.url, {
      method: request.form ? 'POST' : 'GET',
      headers: {
        cookie: jar.header(request.url),
        ...(request.form && { 'content-type': 'application/x-www-form-urlencoded' }),
      },
      body: request.form?.toString(),
      redirect: 'manual',
    });
    jar.store(request.url, response.headers.getSetCookie());
    const location = response.headers.get('location');
    if (response.status >= 300 && response.status < 400 && location) {
      await response.body?.cancel();
      request = { url: new URL(location, request.url) };
      continue;
    }
    const body = await response.text();
    if (response.status !== 200)
      throw new Error(`${request.url.pathname} answered ${response.status}: ${body.slice(0, 500)}`);
    request = { url: new URL(pickForm(body, options), request.url), form: new URLSearchParams() };
    if (request.url.pathname.endsWith('/login')) request.form!.set('login', options.login);
  }
  throw new Error('authorize: too many steps');
}

/** The login page's form, or the consent page's Allow or Deny form (the test provider's pages, oidc-provider-server.mjs). */
function pickForm(html: string, { consent = 'allow' }: AuthorizeOptions): string {
  const actions = [...html.matchAll(/<form[^>]*\saction="([^"]+)"/g)].map((m) => m[1]!);
  const wanted =
    actions.find((a) => a.endsWith('/login')) ??
    actions.find((a) => a.endsWith(consent === 'allow' ? '/confirm' : '/abort'));
  if (!wanted) throw new Error(`authorize: no form to submit in ${html.slice(0, 500)}`);
  return wanted;
}

function callbackOf(url: URL): AuthorizationCallback {
  const get = (name: string) => url.searchParams.get(name) ?? undefined;
  return { url, code: get('code'), state: get('state'), iss: get('iss'), error: get('error') };
}

/** Enough of a browser's cookie jar for one host: names, paths, deletion. */
class CookieJar {
  private cookies = new Map<string, { name: string; value: string; path: string }>();

  store(url: URL, setCookies: string[]): void {
    for (const header of setCookies) {
      const [pair = '', ...attributes] = header.split(';').map((part) => part.trim());
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq);
      const value = pair.slice(eq + 1);
      const attr = (key: string) =>
        attributes.find((a) => a.toLowerCase().startsWith(`${key}=`))?.slice(key.length + 1);
      const cookiePath = attr('path') ?? (url.pathname.replace(/\/[^/]*$/, '') || '/');
      const expires = attr('expires');
      const expired = attr('max-age') === '0' || (expires !== undefined && Date.parse(expires) <= Date.now());
      const key = `${name}\n${cookiePath}`;
      if (expired || value === '') this.cookies.delete(key);
      else this.cookies.set(key, { name, value, path: cookiePath });
    }
  }

  header(url: URL): string {
    return [...this.cookies.values()]
      .filter((c) => url.pathname === c.path || url.pathname.startsWith(c.path.endsWith('/') ? c.path : `${c.path}/`))
      .map((c) => `${c.name}=${c.value}`)
      .join('; ');
  }
}
