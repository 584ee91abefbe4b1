import { AuditEventModel } from '../../../src/audit/audit.model';
import { flushAuditEvents } from '../../../src/audit/audit.service';
import { OidcStateModel } from '../../../src/social/oidc-state.model';
import { LinkedIdentityModel } from '../../../src/social/identity.model';
import { UserModel } from '../../../src/users/user.model';
import { bearer, LOGIN, logIn, signUp, strongPassword, uniqueEmail } from '../../helpers/auth';
import { codes, type GraphQLResponse } from '../../helpers/graphql';
import { authorize, OIDC_TEST_ACCOUNTS, startOidcProvider, type TestOidcProvider } from '../../helpers/oidc-provider';
import { startMailbox, type Mailbox } from '../../helpers/mailbox';
import { startTestServer, type TestServer } from '../../helpers/server';
import { signUpWithTotp, totpCode } from '../../helpers/totp';

const REDIRECT_URI = 'http://localhost:5173/auth/callback';
const ADMIN_EMAIL = uniqueEmail('admin');
const ADMIN_PASSWORD = strongPassword();
// Provider accounts besides alice (new), bob (unverified email) and carol (no email).
const ACCOUNTS = [
  ...OIDC_TEST_ACCOUNTS,
  { sub: 'dave', email: 'dave@example.test', email_verified: true, name: 'Dave Verified' },
  { sub: 'erin', email: 'erin@example.test', email_verified: true, name: 'Erin' },
  { sub: 'frank', email: 'frank@example.test', email_verified: true, name: 'Frank' },
  { sub: 'gina', email: 'gina@example.test', email_verified: true, name: 'Gina' },
  { sub: 'hank', email: 'hank-at-corp@example.test', email_verified: true, name: 'Hank' },
  { sub: 'ivy', email: 'ivy@example.test', email_verified: true, name: 'Ivy' },
  { sub: 'jack', email: 'jack-at-corp@example.test', email_verified: true, name: 'Jack' },
  // A provider that vouches for the administrator's address, and one whose email hides a Kelvin sign.
  { sub: 'root', email: ADMIN_EMAIL, email_verified: true, name: 'Root' },
  { sub: 'liz', email: 'Liz.Case@Example.TEST', email_verified: true, name: 'Liz' },
  { sub: 'kelvin', email: '\u212Aate@example.test', email_verified: true, name: 'Kelvin' },
];

const START =
  'mutation($p: String!, $r: String!) { startProviderSignIn(provider: $p, redirectUri: $r) { url expiresAt } }';
const FINISH = `mutation($c: String!, $s: String!, $t: String) {
  finishProviderSignIn(code: $c, state: $s, totpCode: $t) { accessToken user { id email emailVerified displayName hasPassword } }
}`;
const IDENTITIES = '{ linkedIdentities { id provider email linkedAt lastUsedAt } }';

let provider: TestOidcProvider;
let t: TestServer;
let mailbox: Mailbox;
beforeAll(async () => {
  provider = await startOidcProvider({ redirectUris: [REDIRECT_URI], accounts: ACCOUNTS });
  mailbox = await startMailbox();
  t = await startTestServer({
    SMTP_URL: mailbox.url,
    OIDC_PROVIDERS: 'corp',
    OIDC_REDIRECT_URIS: REDIRECT_URI,
    OIDC_CORP_ISSUER: provider.issuer,
    OIDC_CORP_CLIENT_ID: provider.clientId,
    OIDC_CORP_CLIENT_SECRET: provider.clientSecret,
    OIDC_CORP_NAME: 'Corp SSO',
    ADMIN_EMAIL,
    ADMIN_PASSWORD,
  });
});
afterAll(async () => {
  await t?.stop();
  await provider?.stop();
  await mailbox?.stop();
});

function reason(res: GraphQLResponse): unknown {
  return res.body.errors?.[0]?.extensions?.reason;
}

/**
 * start… at the API, then login and consent at the provider: the callback's code and state, and
 * the browser binding cookie the start set (a browser sends it back with finish…).
 */
async function callback(login: string, start = START, headers: Record<string, string> = {}) {
  const started = await t.gql(start, { p: 'corp', r: REDIRECT_URI }, headers);
  const redirect = Object.values(started.body.data ?? {})[0] as { url: string } | undefined;
  if (!redirect) throw new Error(JSON.stringify(started.body.errors));
  const binding = /__Host-oidc_binding=[^;]+/.exec(started.headers.get('set-cookie') ?? '')?.[0];
  const { code, state } = await authorize(new URL(redirect.url), { login });
  const browser: Record<string, string> = binding ? { cookie: binding } : {};
  return { code: code!, state: state!, browser };
}

/** finish… from the browser that started (its binding cookie), unless another is named. */
function finish(
  flow: { code: string; state: string; browser: Record<string, string> },
  totp?: string,
  browser = flow.browser,
) {
  return t.gql(FINISH, { c: flow.code, s: flow.state, t: totp }, browser);
}

async function signInAs(login: string, totp?: string) {
  return finish(await callback(login), totp);
}

describe('signing in through a provider', () => {
  it('lists the providers', async () => {
    expect((await t.gql('{ signInProviders { id name } }')).body.data!.signInProviders).toEqual([
      { id: 'corp', name: 'Corp SSO' },
    ]);
  });

  it('creates an account without a password for a new identity, and signs it in again', async () => {
    const first = await signInAs('alice');
    const { accessToken, user } = first.body.data!.finishProviderSignIn;
    expect(user).toMatchObject({
      email: 'alice@example.test',
      emailVerified: true,
      displayName: 'Alice Example',
      hasPassword: false,
    });
    const identities = await t.gql(IDENTITIES, undefined, bearer(accessToken));
    expect(identities.body.data!.linkedIdentities).toEqual([
      expect.objectContaining({ provider: 'corp', email: 'alice@example.test' }),
    ]);
    const before = identities.body.data!.linkedIdentities[0].lastUsedAt as string;
    const again = await signInAs('alice');
    expect(again.body.data!.finishProviderSignIn.user.id).toBe(user.id);
    const after = await t.gql(IDENTITIES, undefined, bearer(again.body.data!.finishProviderSignIn.accessToken));
    expect(Date.parse(after.body.data!.linkedIdentities[0].lastUsedAt)).toBeGreaterThan(Date.parse(before));
    // No password: a password sign-in answers as a wrong one.
    expect(reason(await t.gql(LOGIN, { input: { email: 'alice@example.test', password: 'Whatever-123' } }))).toBe(
      'BAD_CREDENTIALS',
    );
  });

  it('links an account whose email both sides verified, and refuses when either did not (ACCOUNT_EXISTS)', async () => {
    const dave = await signUp(t, 'dave@example.test');
    await UserModel.updateOne({ _id: dave.user.id }, { $set: { emailVerified: true } });
    const signedIn = await signInAs('dave');
    expect(signedIn.body.data!.finishProviderSignIn.user.id).toBe(dave.user.id);
    await flushAuditEvents();
    expect(await AuditEventModel.exists({ userId: dave.user.id, type: 'IDENTITY_LINKED' })).not.toBeNull();

    // Emails compare case-insensitively.
    const liz = await signUp(t, 'liz.case@example.test');
    await UserModel.updateOne({ _id: liz.user.id }, { $set: { emailVerified: true } });
    expect((await signInAs('liz')).body.data!.finishProviderSignIn.user.id).toBe(liz.user.id);

    // The account never proved the address: whoever registered it may not own it.
    await signUp(t, 'erin@example.test');
    const erin = await signInAs('erin');
    expect(codes(erin)).toEqual(['FORBIDDEN']);
    expect(reason(erin)).toBe('ACCOUNT_EXISTS');
    // The provider does not vouch for the address.
    await signUp(t, 'bob@example.test');
    expect(reason(await signInAs('bob'))).toBe('ACCOUNT_EXISTS');
    // No email at all: no account to make.
    expect(reason(await signInAs('carol'))).toBe('PROVIDER_EMAIL_REQUIRED');
    // Never the administrator's account, whatever the provider vouches for.
    expect(reason(await signInAs('root'))).toBe('ACCOUNT_EXISTS');
    // An address that only looks like kate's once lower-cased (a Kelvin sign) is no address.
    const kate = await signUp(t, 'kate@example.test');
    await UserModel.updateOne({ _id: kate.user.id }, { $set: { emailVerified: true } });
    expect(reason(await signInAs('kelvin'))).toBe('PROVIDER_EMAIL_REQUIRED');
  });

  it('refuses a wrong, replayed or parallel state and a replayed code (PROVIDER_SIGN_IN_INVALID)', async () => {
    const flow = await callback('alice');
    expect(reason(await finish({ ...flow, state: 'x'.repeat(43) }))).toBe('PROVIDER_SIGN_IN_INVALID');
    const results = await Promise.all([1, 2].map(() => finish(flow)));
    expect(results.map(reason).sort()).toEqual(['PROVIDER_SIGN_IN_INVALID', undefined]);
    expect(reason(await finish(flow))).toBe('PROVIDER_SIGN_IN_INVALID');
    // The provider redeems a code once, whatever state comes with it.
    const fresh = await callback('alice');
    expect(reason(await finish({ ...fresh, code: flow.code }))).toBe('PROVIDER_SIGN_IN_INVALID');
  });

  it('refuses an expired state', async () => {
    const flow = await callback('alice');
    await OidcStateModel.updateOne({ _id: flow.state }, { $set: { expiresAt: new Date(Date.now() - 1000) } });
    expect(reason(await finish(flow))).toBe('PROVIDER_SIGN_IN_INVALID');
  });

  it('cannot be finished by another browser (login CSRF): the state waits for the one that started it', async () => {
    // The attacker starts and signs in at the provider, then sends the callback to a victim.
    const attackers = await callback('alice');
    expect(reason(await finish(attackers, undefined, {}))).toBe('PROVIDER_SIGN_IN_INVALID');
    const victims = await callback('bob').catch(() => null);
    const otherBrowser = victims?.browser ?? { cookie: '__Host-oidc_binding=somebody-else' };
    expect(reason(await finish(attackers, undefined, otherBrowser))).toBe('PROVIDER_SIGN_IN_INVALID');
    expect((await finish(attackers)).body.data!.finishProviderSignIn.user.email).toBe('alice@example.test');
  });

  it('takes only the configured redirect URIs and providers', async () => {
    const open = await t.gql(START, { p: 'corp', r: 'https://evil.example/callback' });
    expect(codes(open)).toEqual(['BAD_USER_INPUT']);
    expect(open.body.errors![0]!.extensions!.field).toBe('redirectUri');
    expect(codes(await t.gql(START, { p: 'nope', r: REDIRECT_URI }))).toEqual(['BAD_USER_INPUT']);
  });

  it.each(['wrong-key', 'wrong-aud', 'wrong-nonce'] as const)('refuses an ID token with a %s', async (mode) => {
    const flow = await callback('alice');
    await provider.forgeIdTokens(mode);
    try {
      expect(reason(await finish(flow))).toBe('PROVIDER_SIGN_IN_INVALID');
    } finally {
      await provider.forgeIdTokens('off');
    }
    expect(await OidcStateModel.exists({ _id: flow.state })).toBeNull();
  });

  it('asks a TOTP account for a code and keeps the state for the retry', async () => {
    const frank = await signUpWithTotp(t, 'frank@example.test');
    await UserModel.updateOne({ _id: frank.user.id }, { $set: { emailVerified: true } });
    const flow = await callback('frank');
    expect(reason(await finish(flow))).toBe('MFA_REQUIRED');
    expect(reason(await finish(flow, '000000'))).toBe('MFA_INVALID');
    const signedIn = await finish(flow, await totpCode(frank.secret));
    expect(signedIn.body.data!.finishProviderSignIn.user.id).toBe(frank.user.id);
  });

  it('refuses a disabled account', async () => {
    const gina = await signInAs('gina');
    const admin = await logIn(t, ADMIN_EMAIL, ADMIN_PASSWORD);
    await t.gql(
      'mutation($id: ID!) { setUserDisabled(userId: $id, disabled: true) { id } }',
      { id: gina.body.data!.finishProviderSignIn.user.id },
      bearer(admin.accessToken),
    );
    const again = await signInAs('gina');
    expect(reason(again)).toBe('ACCOUNT_DISABLED');
  });
});

const START_LINK =
  'mutation($p: String!, $r: String!) { startProviderLink(provider: $p, redirectUri: $r) { url expiresAt } }';
const FINISH_LINK =
  'mutation($c: String!, $s: String!) { finishProviderLink(code: $c, state: $s) { id provider email } }';
const UNLINK = 'mutation($id: ID!) { unlinkIdentity(id: $id) }';
const REAUTH = 'mutation($i: ReauthenticateInput!) { reauthenticate(input: $i) { expiresAt } }';

/** A code mailed by requestSignInCode, for reauthenticate on an account without a password. */
async function mailedCode(email: string): Promise<string> {
  const mine = () => mailbox.messages.filter((m) => m.to === email && /sign-in code/i.test(m.subject));
  const before = mine().length;
  await t.gql('mutation($e: String!) { requestSignInCode(email: $e) }', { e: email });
  await mailbox.waitFor(() => mine().length > before);
  return /code is (\d{6})\b/.exec(mine().at(-1)!.text)![1]!;
}

describe('linking and unlinking identities', () => {
  it('links a provider account to mine inside the window; it then signs me in', async () => {
    const user = await signUp(t);
    const auth = bearer(user.accessToken);
    expect(reason(await t.gql(START_LINK, { p: 'corp', r: REDIRECT_URI }, auth))).toBe('REAUTHENTICATION_REQUIRED');
    await t.gql(REAUTH, { i: { password: user.password } }, auth);
    const { code, state } = await callback('hank', START_LINK, auth);
    // Only whoever started the link may finish it.
    const other = await signUp(t);
    expect(reason(await t.gql(FINISH_LINK, { c: code, s: state }, bearer(other.accessToken)))).toBe(
      'PROVIDER_SIGN_IN_INVALID',
    );
    const linked = await t.gql(FINISH_LINK, { c: code, s: state }, auth);
    expect(linked.body.data!.finishProviderLink).toMatchObject({
      provider: 'corp',
      email: 'hank-at-corp@example.test',
    });
    // The identity signs in my account, though its email is not mine.
    expect((await signInAs('hank')).body.data!.finishProviderSignIn.user.id).toBe(user.user.id);
  });

  it('refuses to link an identity another account has (CONFLICT)', async () => {
    await signInAs('ivy');
    const user = await signUp(t);
    const auth = bearer(user.accessToken);
    await t.gql(REAUTH, { i: { password: user.password } }, auth);
    const { code, state } = await callback('ivy', START_LINK, auth);
    expect(codes(await t.gql(FINISH_LINK, { c: code, s: state }, auth))).toEqual(['CONFLICT']);
  });

  it('keeps the last way in; unlinks inside the window; deleting the account deletes the identities', async () => {
    // alice's account came from the provider: no password, no passkey, one identity.
    const alice = (await signInAs('alice')).body.data!.finishProviderSignIn;
    const auth = bearer(alice.accessToken);
    const [identity] = (await t.gql(IDENTITIES, undefined, auth)).body.data!.linkedIdentities as { id: string }[];
    expect(reason(await t.gql(UNLINK, { id: identity!.id }, auth))).toBe('REAUTHENTICATION_REQUIRED');
    await t.gql(REAUTH, { i: { emailCode: await mailedCode('alice@example.test') } }, auth);
    const last = await t.gql(UNLINK, { id: identity!.id }, auth);
    expect(codes(last)).toEqual(['CONFLICT']);
    expect(reason(last)).toBe('LAST_SIGN_IN_METHOD');
    await t.gql('mutation { setPassword(newPassword: "Alice-Sets-Hers-2026") { hasPassword } }', undefined, auth);
    expect((await t.gql(UNLINK, { id: identity!.id }, auth)).body.data!.unlinkIdentity).toBe(true);
    expect(codes(await t.gql(UNLINK, { id: identity!.id }, auth))).toEqual(['NOT_FOUND']);
    await flushAuditEvents();
    expect(await AuditEventModel.exists({ userId: alice.user.id, type: 'IDENTITY_UNLINKED' })).not.toBeNull();

    // Linked again through a sign-in on the verified email, then the account goes with its identities.
    expect((await signInAs('alice')).body.data!.finishProviderSignIn.user.id).toBe(alice.user.id);
    expect(await LinkedIdentityModel.countDocuments({ userId: alice.user.id })).toBe(1);
    expect((await t.gql('mutation { deleteAccount }', undefined, auth)).body.data!.deleteAccount).toBe(true);
    expect(await LinkedIdentityModel.countDocuments({ userId: alice.user.id })).toBe(0);
  });

  it("does not outlive the account's claim by its owner (an identity a squatter linked)", async () => {
    // Someone registers the owner's address without owning it, and links their own provider account.
    const squatter = await signUp(t, uniqueEmail('squatted'));
    const auth = bearer(squatter.accessToken);
    await t.gql(REAUTH, { i: { password: squatter.password } }, auth);
    const { code, state } = await callback('jack', START_LINK, auth);
    expect((await t.gql(FINISH_LINK, { c: code, s: state }, auth)).body.errors).toBeUndefined();
    // The owner signs in by email: the first proof of the address claims the account.
    const owner = await t.gql(
      'mutation($e: String!, $c: String!) { signInWithCode(email: $e, code: $c) { user { id } } }',
      { e: squatter.email, c: await mailedCode(squatter.email) },
    );
    expect(owner.body.data!.signInWithCode.user.id).toBe(squatter.user.id);
    expect(await LinkedIdentityModel.countDocuments({ userId: squatter.user.id })).toBe(0);
    // The squatter's provider account now makes an account of its own, not the owner's.
    const viaProvider = await signInAs('jack');
    expect(viaProvider.body.data!.finishProviderSignIn.user.id).not.toBe(squatter.user.id);
  });
});
