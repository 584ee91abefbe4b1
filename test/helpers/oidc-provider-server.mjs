// A real OpenID Connect provider (oidc-provider, the certified implementation) for the tests, run
// by test/helpers/oidc-provider.ts in a child node process: oidc-provider is ESM only, which
// jest's CommonJS module registry cannot load.
//
// Input: one JSON argument { clients, accounts, idTokenClaims } (see oidc-provider.ts).
// Output: one JSON line { issuer } on stdout once it listens on a free loopback port.
// Commands, one per line on stdin: `rotate` (new signing key; prints { kid }). It exits when its
// stdin closes, so it never outlives the test process that started it, even one that crashed.
import { generateKeyPairSync, randomBytes, randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import { createInterface } from 'node:readline';
import { importJWK, SignJWT } from 'jose';
import Provider from 'oidc-provider';

// stdout carries the lines above only: oidc-provider's notices (console.info) go to stderr.
console.info = console.log = console.error;

const { clients, accounts, idTokenClaims = 'all' } = JSON.parse(process.argv[2]);
const accountsBySub = new Map(accounts.map((account) => [account.sub, account]));
const cookieKeys = [randomBytes(32).toString('base64url')];

function signingKey() {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { ...privateKey.export({ format: 'jwk' }), kid: randomUUID(), alg: 'RS256', use: 'sig' };
}

function createProvider(issuer, keys) {
  const provider = new Provider(issuer, {
    clients: clients.map((client) => ({
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
      ...client,
    })),
    // PKCE is required for every client (by default oidc-provider requires it of public clients only).
    pkce: { required: () => true },
    claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'] },
    // false: the scope's claims go in the ID token too, as Google's do. 'userinfo' keeps the
    // default, where a code flow's ID token carries only sub (the claims come from userinfo).
    conformIdTokenClaims: idTokenClaims === 'userinfo',
    // The interaction pages are served below, not by the development-only ones.
    features: { devInteractions: { enabled: false } },
    interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
    async findAccount(_ctx, sub) {
      const account = accountsBySub.get(sub);
      return account && { accountId: sub, claims: () => ({ ...account }) };
    },
    jwks: { keys },
    cookies: { keys: cookieKeys },
  });
  provider.on('server_error', (_ctx, error) => console.error(error));
  return provider;
}

const page = (body) => `<!doctype html><html><body>${body}</body></html>`;
const escape = (text) => String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

async function readForm(req) {
  let body = '';
  for await (const chunk of req) body += chunk;
  return new URLSearchParams(body);
}

/** The login and consent pages: plain forms that the tests fill in (test/helpers/oidc-provider.ts `authorize`). */
async function interaction(provider, req, res, uid, action) {
  const details = await provider.interactionDetails(req, res);
  if (details.uid !== uid) throw new Error('interaction mismatch');
  const prompt = details.prompt.name;
  if (req.method === 'GET' && !action) {
    res.setHeader('Content-Type', 'text/html; charset=utf-8');
    if (prompt === 'login')
      return res.end(
        page(`<h1>Sign in</h1><form method="post" action="/interaction/${uid}/login">
        <input name="login" autofocus><button>Sign in</button></form>
        <form method="post" action="/interaction/${uid}/abort"><button>Cancel</button></form>`),
      );
    return res.end(
      page(`<h1>Allow ${escape(details.params.client_id)}?</h1>
      <p>Scopes: ${escape([...(details.prompt.details.missingOIDCScope ?? [])].join(' '))}</p>
      <form method="post" action="/interaction/${uid}/confirm"><button>Allow</button></form>
      <form method="post" action="/interaction/${uid}/abort"><button>Deny</button></form>`),
    );
  }
  if (req.method !== 'POST') return reply(res, 405, 'method not allowed');
  const form = await readForm(req);
  if (action === 'abort') {
    const result = { error: 'access_denied', error_description: 'End-User aborted interaction' };
    return provider.interactionFinished(req, res, result, { mergeWithLastSubmission: false });
  }
  if (action === 'login' && prompt === 'login') {
    const accountId = form.get('login') ?? '';
    if (!accountsBySub.has(accountId)) return reply(res, 400, `unknown account ${escape(accountId)}`);
    return provider.interactionFinished(req, res, { login: { accountId } }, { mergeWithLastSubmission: false });
  }
  if (action === 'confirm' && prompt === 'consent') {
    const grant = details.grantId
      ? await provider.Grant.find(details.grantId)
      : new provider.Grant({ accountId: details.session.accountId, clientId: details.params.client_id });
    const missing = details.prompt.details;
    if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
    if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
    const result = { consent: { grantId: await grant.save() } };
    return provider.interactionFinished(req, res, result, { mergeWithLastSubmission: true });
  }
  return reply(res, 400, `cannot ${action} at the ${prompt} prompt`);
}

function reply(res, status, text) {
  res.statusCode = status;
  res.setHeader('Content-Type', 'text/plain; charset=utf-8');
  res.end(text);
}

let keys = [signingKey()];
let provider;
let handle;
/** How the token endpoint lies about the ID token, to play a hostile provider: null tells the truth. */
let forgery = null;

/** Re-signs an ID token with `claims` changed, by the provider's key or (`wrong-key`) a stranger's. */
async function forge(idToken) {
  const [header, payload] = idToken
    .split('.')
    .slice(0, 2)
    .map((part) => JSON.parse(Buffer.from(part, 'base64url')));
  const claims = { ...payload };
  if (forgery === 'wrong-aud') claims.aud = 'someone-else';
  if (forgery === 'wrong-nonce') claims.nonce = 'not-the-nonce';
  const key = forgery === 'wrong-key' ? signingKey() : keys[0];
  const signer = await importJWK(key, 'RS256');
  return new SignJWT(claims).setProtectedHeader({ ...header, kid: keys[0].kid }).sign(signer);
}

/** Rewrites the token endpoint's JSON on its way out while a forgery is set. */
function forging(req, res) {
  if (!forgery || req.method !== 'POST' || !new URL(req.url, 'http://x').pathname.endsWith('/token')) return;
  const end = res.end.bind(res);
  const chunks = [];
  res.write = (chunk) => chunks.push(Buffer.from(chunk)) > 0;
  res.end = (chunk, ...rest) => {
    if (chunk && typeof chunk !== 'function') chunks.push(Buffer.from(chunk));
    const body = JSON.parse(Buffer.concat(chunks).toString() || '{}');
    if (!body.id_token) return end(Buffer.concat(chunks), ...rest);
    forge(body.id_token).then((idToken) => {
      const text = JSON.stringify({ ...body, id_token: idToken });
      res.setHeader('Content-Length', Buffer.byteLength(text));
      end(text);
    });
    return res;
  };
}

const server = createServer((req, res) => {
  const match = /^\/interaction\/([\w-]+)(?:\/(login|confirm|abort))?$/.exec(new URL(req.url, 'http://x').pathname);
  forging(req, res);
  if (!match) return handle(req, res);
  interaction(provider, req, res, match[1], match[2]).catch((error) => {
    if (!res.headersSent) reply(res, 400, error.message);
    else res.destroy();
  });
});
server.listen(0, '127.0.0.1', () => {
  const issuer = `http://127.0.0.1:${server.address().port}`;
  provider = createProvider(issuer, keys);
  handle = provider.callback();
  process.stdout.write(`${JSON.stringify({ issuer })}\n`);
});

const commands = createInterface({ input: process.stdin });
commands.on('line', (line) => {
  const [command, mode] = line.trim().split(' ');
  if (command === 'forge') {
    forgery = mode === 'off' ? null : mode;
    process.stdout.write(`${JSON.stringify({ forgery })}\n`);
    return;
  }
  if (command !== 'rotate') return;
  // A new key first, the old one kept in the JWKS (as a provider does while tokens it signed are alive).
  keys = [signingKey(), keys[0]];
  // Codes, sessions and grants live in oidc-provider's module-level memory store: the new
  // instance shares them, so a flow begun before the rotation ends after it.
  provider = createProvider(provider.issuer, keys);
  handle = provider.callback();
  process.stdout.write(`${JSON.stringify({ kid: keys[0].kid })}\n`);
});
commands.on('close', () => process.exit(0));
