import type { PublicKeyCredentialRequestOptionsJSON } from '@simplewebauthn/server';
import { Secret, TOTP } from 'otpauth';
import { AuditEventModel } from '../../../src/audit/audit.model';
import { flushAuditEvents } from '../../../src/audit/audit.service';
import { RateLimitModel } from '../../../src/infra/rate-limit';
import { basic, bearer, LOGIN, logIn, REFRESH, signUp } from '../../helpers/auth';
import { codes, type GraphQLResponse } from '../../helpers/graphql';
import { startTestServer, type TestServer } from '../../helpers/server';
import { startMailbox, type Mailbox } from '../../helpers/mailbox';
import { SoftwareAuthenticator } from '../../helpers/webauthn';

const ORIGIN = 'http://localhost:4000';
/** Short, so the expiry test waits seconds; every other test acts well within it. */
const WINDOW_SECONDS = 6;

const REAUTH = 'mutation($i: ReauthenticateInput!) { reauthenticate(input: $i) { expiresAt } }';
const CHANGE_PASSWORD =
  'mutation($p: String, $n: String!) { changePassword(currentPassword: $p, newPassword: $n) { accessToken } }';
const EMAIL_CHANGE = 'mutation($e: String!) { requestEmailChange(newEmail: $e) }';
const BEGIN_TOTP = 'mutation { beginTotpSetup { secret } }';
const CONFIRM_TOTP = 'mutation($c: String!) { confirmTotpSetup(code: $c) }';
const DISABLE_TOTP = 'mutation($c: String!) { disableTotp(code: $c) }';
const REGENERATE = 'mutation($c: String!) { regenerateRecoveryCodes(code: $c) }';
const DELETE_ACCOUNT = 'mutation { deleteAccount }';

let t: TestServer;
let mailbox: Mailbox;
beforeAll(async () => {
  mailbox = await startMailbox();
  t = await startTestServer({ REAUTH_WINDOW_SECONDS: String(WINDOW_SECONDS), SMTP_URL: mailbox.url });
});
afterAll(async () => {
  await t.stop();
  await mailbox.stop();
});

/** Asks for a sign-in code for the address and reads the newest one from the mailbox. */
async function mailedCode(email: string): Promise<string> {
  const codeMails = () => mailbox.messages.filter((m) => m.to === email && /sign-in code/i.test(m.subject));
  const before = codeMails().length;
  await t.gql('mutation($e: String!) { requestSignInCode(email: $e) }', { e: email });
  await mailbox.waitFor(() => codeMails().length > before);
  return /code is (\d{6})\b/.exec(codeMails().at(-1)!.text)![1]!;
}

type User = Awaited<ReturnType<typeof signUp>>;
const newPassword = () => `Fresh-Meadow-${Math.random().toString(36).slice(2)}`;

function reason(res: GraphQLResponse): unknown {
  return res.body.errors?.[0]?.extensions?.reason;
}

function expectReauthRequired(res: GraphQLResponse): void {
  expect(codes(res)).toEqual(['FORBIDDEN']);
  expect(reason(res)).toBe('REAUTHENTICATION_REQUIRED');
}

async function reauthenticate(token: string, input: Record<string, unknown>): Promise<GraphQLResponse> {
  return t.gql(REAUTH, { i: input }, bearer(token));
}

/** A TOTP code for the secret, shifted by whole steps. */
function totp(secret: string, steps = 0): string {
  return TOTP.generate({ secret: Secret.fromBase32(secret), timestamp: Date.now() + steps * 30_000 });
}

/** Turns TOTP on inside a fresh window; answers the secret and the recovery codes. */
async function enableTotp(user: User): Promise<{ secret: string; recovery: string[] }> {
  await reauthenticate(user.accessToken, { password: user.password });
  const begun = await t.gql(BEGIN_TOTP, undefined, bearer(user.accessToken));
  const secret = begun.body.data!.beginTotpSetup.secret as string;
  const confirmed = await t.gql(CONFIRM_TOTP, { c: totp(secret, -1) }, bearer(user.accessToken));
  expect(confirmed.body.data!.confirmTotpSetup).toHaveLength(10);
  return { secret, recovery: confirmed.body.data!.confirmTotpSetup as string[] };
}

describe('the sensitive mutations without currentPassword', () => {
  it('answer REAUTHENTICATION_REQUIRED outside the window; signing in does not open it', async () => {
    const user = await signUp(t);
    const { accessToken } = await logIn(t, user.email, user.password);
    const auth = bearer(accessToken);
    expectReauthRequired(await t.gql(CHANGE_PASSWORD, { n: newPassword() }, auth));
    expectReauthRequired(await t.gql(EMAIL_CHANGE, { e: `new-${user.email}` }, auth));
    expectReauthRequired(await t.gql(BEGIN_TOTP, undefined, auth));
    expectReauthRequired(await t.gql(DELETE_ACCOUNT, undefined, auth));
    expectReauthRequired(await t.gql('mutation { beginPasskeyRegistration }', undefined, auth));
    // Existing clients that send the password keep working.
    const changed = await t.gql(CHANGE_PASSWORD, { p: user.password, n: newPassword() }, auth);
    expect(changed.body.data!.changePassword.accessToken).toEqual(expect.any(String));
  });

  it('work inside the window, where a wrong currentPassword still answers as before', async () => {
    const user = await signUp(t);
    const opened = await reauthenticate(user.accessToken, { password: user.password });
    const expiresAt = Date.parse((opened.body.data!.reauthenticate as { expiresAt: string }).expiresAt);
    expect(expiresAt - Date.now()).toBeGreaterThan((WINDOW_SECONDS - 3) * 1000);
    expect(expiresAt - Date.now()).toBeLessThanOrEqual(WINDOW_SECONDS * 1000);
    const auth = bearer(user.accessToken);
    const wrong = await t.gql(CHANGE_PASSWORD, { p: 'not-my-password', n: newPassword() }, auth);
    expect(codes(wrong)).toEqual(['BAD_USER_INPUT']);
    expect((await t.gql(EMAIL_CHANGE, { e: `new-${user.email}` }, auth)).body.data!.requestEmailChange).toBe(true);
    const changed = await t.gql(CHANGE_PASSWORD, { n: newPassword() }, auth);
    // The caller's session stays, and with it the window.
    const next = bearer((changed.body.data!.changePassword as { accessToken: string }).accessToken);
    expect((await t.gql(DELETE_ACCOUNT, undefined, next)).body.data!.deleteAccount).toBe(true);
    await flushAuditEvents();
    expect(await AuditEventModel.exists({ userId: user.user.id, type: 'REAUTHENTICATED' })).not.toBeNull();
  });

  it('with TOTP on: the password proof needs a code, and the window replaces only the password', async () => {
    const user = await signUp(t);
    const { secret, recovery } = await enableTotp(user);
    const { accessToken } = (
      await t.gql(LOGIN, { input: { email: user.email, password: user.password, totpCode: totp(secret) } })
    ).body.data!.login;
    const alone = await reauthenticate(accessToken, { password: user.password });
    expect(codes(alone)).toEqual(['BAD_USER_INPUT']);
    expect(alone.body.errors![0]!.extensions!.field).toBe('input.totpCode');
    expect(codes(await reauthenticate(accessToken, { password: user.password, totpCode: '000000' }))).toEqual([
      'BAD_USER_INPUT',
    ]);
    expect(
      (await reauthenticate(accessToken, { password: user.password, totpCode: totp(secret, 1) })).body.errors,
    ).toBeUndefined();
    // The code these mutations ask for stays.
    expect(codes(await t.gql(REGENERATE, { c: '123456' }, bearer(accessToken)))).toEqual(['BAD_USER_INPUT']);
    // Each TOTP step is used once: recovery codes from here.
    const regenerated = await t.gql(REGENERATE, { c: recovery[0] }, bearer(accessToken));
    expect(regenerated.body.data!.regenerateRecoveryCodes).toHaveLength(10);
    const codesLeft = regenerated.body.data!.regenerateRecoveryCodes as string[];
    expect((await t.gql(DISABLE_TOTP, { c: codesLeft[0] }, bearer(accessToken))).body.data!.disableTotp).toBe(true);
  });
});

describe('the window', () => {
  it('belongs to one session: not another session, HTTP Basic or an API key; refreshed tokens keep it', async () => {
    const user = await signUp(t);
    const other = await logIn(t, user.email, user.password);
    await reauthenticate(user.accessToken, { password: user.password });
    expectReauthRequired(await t.gql(BEGIN_TOTP, undefined, bearer(other.accessToken)));
    expectReauthRequired(await t.gql(BEGIN_TOTP, undefined, basic(user.email, user.password)));
    const viaBasic = await t.gql(REAUTH, { i: { password: user.password } }, basic(user.email, user.password));
    expect(reason(viaBasic)).toBe('SESSION_REQUIRED');
    const key = await t.gql(
      'mutation { createApiKey(input: { name: "ci", scopes: [ITEMS_READ] }) { secret } }',
      undefined,
      bearer(user.accessToken),
    );
    const apiKey = bearer(key.body.data!.createApiKey.secret);
    expect(codes(await t.gql(REAUTH, { i: { password: user.password } }, apiKey))).toEqual(['FORBIDDEN']);
    expect(codes(await t.gql(BEGIN_TOTP, undefined, apiKey))).toEqual(['FORBIDDEN']);

    const refreshed = await t.gql(REFRESH, { t: user.refreshToken });
    const renewed = bearer(refreshed.body.data!.refreshToken.accessToken);
    expect((await t.gql(BEGIN_TOTP, undefined, renewed)).body.data!.beginTotpSetup.secret).toEqual(expect.any(String));
  });

  it('expires after REAUTH_WINDOW_SECONDS', async () => {
    const user = await signUp(t);
    await reauthenticate(user.accessToken, { password: user.password });
    expect((await t.gql(BEGIN_TOTP, undefined, bearer(user.accessToken))).body.errors).toBeUndefined();
    await new Promise((resolve) => setTimeout(resolve, WINDOW_SECONDS * 1000 + 200));
    expectReauthRequired(await t.gql(BEGIN_TOTP, undefined, bearer(user.accessToken)));
  }, 20_000);
});

describe('Mutation.reauthenticate', () => {
  it('takes exactly one proof', async () => {
    const user = await signUp(t);
    expect(codes(await reauthenticate(user.accessToken, {}))).toEqual(['BAD_USER_INPUT']);
    const both = await reauthenticate(user.accessToken, { password: user.password, passkeyResponse: { id: 'x' } });
    expect(codes(both)).toEqual(['BAD_USER_INPUT']);
    expect(codes(await t.gql(REAUTH, { i: { password: user.password } }))).toEqual(['UNAUTHENTICATED']);
  });

  it('counts wrong passwords towards the sign-in lockout', async () => {
    const user = await signUp(t);
    for (let i = 0; i < 5; i += 1) {
      const res = await reauthenticate(user.accessToken, { password: `wrong-${i}` });
      expect(res.body.errors![0]!.extensions!.field).toBe('input.password');
    }
    expect(codes(await reauthenticate(user.accessToken, { password: user.password }))).toEqual(['TOO_MANY_REQUESTS']);
    expect(codes(await t.gql(LOGIN, { input: { email: user.email, password: user.password } }))).toEqual([
      'TOO_MANY_REQUESTS',
    ]);
  });

  it("accepts one of my passkeys, not another user's", async () => {
    const user = await signUp(t);
    const other = await signUp(t);
    const mine = new SoftwareAuthenticator(ORIGIN);
    const theirs = new SoftwareAuthenticator(ORIGIN);
    for (const [who, authenticator] of [
      [user, mine],
      [other, theirs],
    ] as const) {
      await reauthenticate(who.accessToken, { password: who.password });
      const options = await t.gql('mutation { beginPasskeyRegistration }', undefined, bearer(who.accessToken));
      const created = authenticator.create(options.body.data!.beginPasskeyRegistration);
      const finished = await t.gql(
        'mutation($r: JSONObject!) { finishPasskeyRegistration(response: $r) { id } }',
        { r: created },
        bearer(who.accessToken),
      );
      expect(finished.body.errors).toBeUndefined();
    }
    const { accessToken } = await logIn(t, user.email, user.password);
    const challenge = async () =>
      (await t.gql('mutation { beginPasskeySignIn }')).body.data!
        .beginPasskeySignIn as PublicKeyCredentialRequestOptionsJSON;
    const withCode = await reauthenticate(accessToken, { passkeyResponse: mine.get(await challenge()), totpCode: '1' });
    expect(withCode.body.errors![0]!.extensions!.field).toBe('input.totpCode');
    const foreign = await reauthenticate(accessToken, { passkeyResponse: theirs.get(await challenge()) });
    expect(foreign.body.errors![0]!.extensions!.field).toBe('input.passkeyResponse');
    expectReauthRequired(await t.gql(BEGIN_TOTP, undefined, bearer(accessToken)));
    expect(
      (await reauthenticate(accessToken, { passkeyResponse: mine.get(await challenge()) })).body.errors,
    ).toBeUndefined();
    expect((await t.gql(BEGIN_TOTP, undefined, bearer(accessToken))).body.errors).toBeUndefined();
  });

  it('accepts an emailed code, with a TOTP code too when TOTP is on', async () => {
    const user = await signUp(t);
    const wrong = await reauthenticate(user.accessToken, { emailCode: '000000' });
    expect(wrong.body.errors![0]!.extensions!.field).toBe('input.emailCode');
    expect(
      (await reauthenticate(user.accessToken, { emailCode: await mailedCode(user.email) })).body.errors,
    ).toBeUndefined();
    expect((await t.gql(BEGIN_TOTP, undefined, bearer(user.accessToken))).body.errors).toBeUndefined();

    const guarded = await signUp(t);
    const { secret, recovery } = await enableTotp(guarded);
    const code = await mailedCode(guarded.email);
    // A right TOTP code with a wrong emailed one clears nothing: both or neither.
    const half = await reauthenticate(guarded.accessToken, { emailCode: '000000', totpCode: totp(secret, 1) });
    expect(half.body.errors![0]!.extensions!.field).toBe('input.emailCode');
    expect((await RateLimitModel.findById(`lockout:${guarded.email}`).lean())?.count).toBe(1);
    const alone = await reauthenticate(guarded.accessToken, { emailCode: code });
    expect(alone.body.errors![0]!.extensions!.field).toBe('input.totpCode');
    const both = await reauthenticate(guarded.accessToken, { emailCode: code, totpCode: totp(secret, 1) });
    expect(both.body.errors).toBeUndefined();
    // Used once (a recovery code stands in for the TOTP step already used).
    const again = await reauthenticate(guarded.accessToken, { emailCode: code, totpCode: recovery[0] });
    expect(again.body.errors![0]!.extensions!.field).toBe('input.emailCode');
  });
});
