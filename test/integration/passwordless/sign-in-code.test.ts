import { RateLimitModel } from '../../../src/infra/rate-limit';
import { AuditEventModel } from '../../../src/audit/audit.model';
import { flushAuditEvents } from '../../../src/audit/audit.service';
import { passwordlessModule } from '../../../src/passwordless/passwordless.module';
import { SignInCodeModel } from '../../../src/passwordless/sign-in-code.model';
import { flushSignInCodes, proveSignInCode } from '../../../src/passwordless/sign-in-code.service';
import { User, UserModel } from '../../../src/users/user.model';
import { bearer, LOGIN, logIn, ME, signUp, strongPassword, uniqueEmail } from '../../helpers/auth';
import { codes, type GraphQLResponse } from '../../helpers/graphql';
import { startMailbox, type Mailbox, type ReceivedMail } from '../../helpers/mailbox';
import { startTestServer, type TestServer } from '../../helpers/server';
import { SoftwareAuthenticator } from '../../helpers/webauthn';
import { signUpWithTotp, totpCode } from '../../helpers/totp';

const REQUEST = 'mutation($e: String!) { requestSignInCode(email: $e) }';
const SIGN_IN = `mutation($e: String!, $c: String!, $t: String, $cookie: Boolean) {
  signInWithCode(email: $e, code: $c, totpCode: $t, useCookie: $cookie) {
    accessToken refreshToken user { id email emailVerified }
  }
}`;
const SET_DISABLED = 'mutation($id: ID!, $d: Boolean!) { setUserDisabled(userId: $id, disabled: $d) { id } }';
const DELETE_ACCOUNT = 'mutation($p: String!) { deleteAccount(currentPassword: $p) }';

/** Wrong codes the lockout allows per email here: more than the five that void one code. */
const MAX_ATTEMPTS = 8;
const ADMIN_EMAIL = uniqueEmail('admin');
const ADMIN_PASSWORD = strongPassword();

interface SignedIn {
  accessToken: string;
  refreshToken: string | null;
  user: { id: string; email: string; emailVerified: boolean };
}

let mailbox: Mailbox;
beforeAll(async () => {
  mailbox = await startMailbox();
});
afterAll(() => mailbox.stop());

/** The server of the first suite (one server at a time: they share mongoose's connection). */
let t: TestServer;

const codeMails = (email: string) => (m: ReceivedMail) => m.to === email && /sign-in code/i.test(m.subject);
const codeIn = (mail: ReceivedMail) => /code is (\d{6})\b/.exec(mail.text)![1]!;

/** Asks for a code and waits for the `nth` code mail to the address (1 = the first). */
async function mailedCode(email: string, nth = 1): Promise<string> {
  expect((await t.gql(REQUEST, { e: email })).body).toEqual({ data: { requestSignInCode: true } });
  await mailbox.waitFor(() => mailbox.messages.filter(codeMails(email)).length >= nth);
  return codeIn(mailbox.messages.filter(codeMails(email))[nth - 1]!);
}

const signIn = (e: string, c: string, extra: { t?: string; cookie?: boolean } = {}) =>
  t.gql<{ signInWithCode: SignedIn }>(SIGN_IN, { e, c, ...extra });

function expectReason(res: GraphQLResponse, code: string, reason: string) {
  expect(codes(res)).toEqual([code]);
  expect(res.body.errors![0]!.extensions!.reason).toBe(reason);
}
const expectCodeInvalid = (res: GraphQLResponse) => expectReason(res, 'UNAUTHENTICATED', 'CODE_INVALID');

/** Another code than `code` (to guess wrong on purpose). */
const wrong = (code: string) => String((Number(code) + 1) % 1_000_000).padStart(6, '0');

/** The failed sign-ins counted for an email (its lockout counter). */
const failuresOf = async (email: string) => (await RateLimitModel.findById(`lockout:${email}`).lean())?.count;

describe('requestSignInCode and signInWithCode over real SMTP', () => {
  beforeAll(async () => {
    t = await startTestServer({
      SMTP_URL: mailbox.url,
      LOGIN_MAX_ATTEMPTS: String(MAX_ATTEMPTS),
      ADMIN_EMAIL,
      ADMIN_PASSWORD,
    });
  });
  afterAll(() => t.stop());

  it('mails a code; signing in with it starts a session, verifies the address and uses the code up', async () => {
    const user = await signUp(t, uniqueEmail('code'));
    const code = await mailedCode(user.email);
    const mail = mailbox.messages.find(codeMails(user.email))!;
    expect(mail.subject).toBe('Your sign-in code');
    expect(mail.text).toContain('valid for 10 minutes');
    expect(mail.html).toContain(code);
    expect(mail.html).not.toContain('href=');
    // Only an HMAC of the code is stored.
    expect(JSON.stringify(await SignInCodeModel.find({ _id: user.user.id }).lean())).not.toContain(code);

    const res = await signIn(` ${user.email.toUpperCase()} `, code);
    const payload = res.body.data!.signInWithCode;
    expect(payload.user).toEqual({ id: user.user.id, email: user.email, emailVerified: true });
    expect((await t.gql(ME, {}, bearer(payload.accessToken))).body.data!.me.id).toBe(user.user.id);
    expectCodeInvalid(await signIn(user.email, code));
    expect(await SignInCodeModel.countDocuments({ _id: user.user.id })).toBe(0);

    await flushAuditEvents();
    const events = await AuditEventModel.find({ userId: user.user.id }).lean();
    expect(events.map((e) => e.type)).toEqual(expect.arrayContaining(['SIGN_IN_CODE_SENT', 'LOGIN_SUCCEEDED']));
    // The first proof of the address: the account is claimed (see the next test).
    expect(events.find((e) => e.type === 'LOGIN_SUCCEEDED')!.details).toEqual({ via: 'signInWithCode', claimed: true });
  });

  it('takes an unproven account back from whoever registered it: that password, session, key and passkey end', async () => {
    // Someone registers the owner's address first, without owning the mailbox, and sets up ways back in.
    const squatter = await signUp(t, uniqueEmail('squatted'));
    const auth = bearer(squatter.accessToken);
    await t.gql(
      'mutation($i: ReauthenticateInput!) { reauthenticate(input: $i) { expiresAt } }',
      {
        i: { password: squatter.password },
      },
      auth,
    );
    const authenticator = new SoftwareAuthenticator('http://localhost:4000');
    const options = (await t.gql('mutation { beginPasskeyRegistration }', undefined, auth)).body.data!;
    const finished = await t.gql(
      'mutation($r: JSONObject!) { finishPasskeyRegistration(response: $r) { id } }',
      { r: authenticator.create(options.beginPasskeyRegistration) },
      auth,
    );
    expect(finished.body.errors).toBeUndefined();
    const key = await t.gql(
      'mutation { createApiKey(input: { name: "later", scopes: [ITEMS_READ] }) { secret } }',
      undefined,
      auth,
    );
    const apiKey = bearer(key.body.data!.createApiKey.secret);
    expect((await t.gql(ME, {}, apiKey)).body.data!.me.email).toBe(squatter.email);

    // The owner signs in by email.
    const owner = await signIn(squatter.email, await mailedCode(squatter.email));
    const ownerAuth = bearer(owner.body.data!.signInWithCode.accessToken);
    expect((await t.gql(ME, {}, ownerAuth)).body.data!.me.email).toBe(squatter.email);

    expect(codes(await t.gql(ME, {}, auth))).toEqual(['UNAUTHENTICATED']);
    expect(codes(await t.gql(ME, {}, apiKey))).toEqual(['UNAUTHENTICATED']);
    const login = await t.gql(LOGIN, { input: { email: squatter.email, password: squatter.password } });
    expect(login.body.errors![0]!.extensions!.reason).toBe('BAD_CREDENTIALS');
    const challenge = (await t.gql('mutation { beginPasskeySignIn }')).body.data!.beginPasskeySignIn;
    const viaPasskey = await t.gql('mutation($r: JSONObject!) { finishPasskeySignIn(response: $r) { accessToken } }', {
      r: authenticator.get(challenge),
    });
    expect(viaPasskey.body.errors![0]!.extensions!.reason).toBe('PASSKEY_INVALID');

    // Once proven, a later code sign-in ends nothing.
    await signIn(squatter.email, await mailedCode(squatter.email, 2));
    expect((await t.gql(ME, {}, ownerAuth)).body.data!.me.email).toBe(squatter.email);
  });

  it('answers true alike for unknown and disabled accounts and mails neither; a malformed address is BAD_USER_INPUT', async () => {
    const disabled = await signUp(t, uniqueEmail('off'));
    await UserModel.updateOne({ _id: disabled.user.id }, { $set: { disabled: true } });
    const unknown = uniqueEmail('nobody');
    for (const e of [unknown, disabled.email])
      expect((await t.gql(REQUEST, { e })).body).toEqual({ data: { requestSignInCode: true } });
    await flushSignInCodes();
    await new Promise((r) => setTimeout(r, 300));
    expect(mailbox.messages.filter((m) => codeMails(unknown)(m) || codeMails(disabled.email)(m))).toEqual([]);
    expect(codes(await t.gql(REQUEST, { e: 'not-an-email' }))).toEqual(['BAD_USER_INPUT']);
  });

  it('gives one answer for an unknown email and a wrong, malformed or expired code; housekeeping drops the expired', async () => {
    const user = await signUp(t, uniqueEmail('expiry'));
    const code = await mailedCode(user.email);
    const answers = [
      await signIn(uniqueEmail('nobody'), code),
      await signIn(user.email, wrong(code)),
      await signIn(user.email, 'abc'),
      await signIn('not an email', code),
    ];
    await SignInCodeModel.updateOne({ _id: user.user.id }, { $set: { expiresAt: new Date(Date.now() - 1000) } });
    answers.push(await signIn(user.email, code));
    for (const res of answers) expectCodeInvalid(res);
    expect(new Set(answers.map((r) => r.body.errors![0]!.message))).toEqual(new Set(['Invalid or expired code']));
    await passwordlessModule.housekeeping!(t.config);
    expect(await SignInCodeModel.countDocuments({ _id: user.user.id })).toBe(0);
  });

  it('accepts a code typed with spaces', async () => {
    const user = await signUp(t, uniqueEmail('spaces'));
    const code = await mailedCode(user.email);
    const res = await signIn(user.email, `${code.slice(0, 3)} ${code.slice(3)}`);
    expect(res.body.data?.signInWithCode.user.id).toBe(user.user.id);
  });

  it('replaces an older code with a newer one', async () => {
    const user = await signUp(t, uniqueEmail('newer'));
    const first = await mailedCode(user.email, 1);
    const second = await mailedCode(user.email, 2);
    expectCodeInvalid(await signIn(user.email, first));
    expect((await signIn(user.email, second)).body.data?.signInWithCode.user.id).toBe(user.user.id);
  });

  it('voids a code after five wrong ones: the right one is then refused', async () => {
    const user = await signUp(t, uniqueEmail('void'));
    const code = await mailedCode(user.email);
    for (let i = 0; i < 4; i++) expectCodeInvalid(await signIn(user.email, wrong(code)));
    expect((await SignInCodeModel.findById(user.user.id).lean())!.misses).toBe(4);
    expectCodeInvalid(await signIn(user.email, wrong(code)));
    expect(await SignInCodeModel.countDocuments({ _id: user.user.id })).toBe(0);
    expectCodeInvalid(await signIn(user.email, code));
  });

  it('counts wrong codes towards the sign-in lockout, for known and unknown emails alike', async () => {
    const user = await signUp(t, uniqueEmail('locked'));
    const unknown = uniqueEmail('ghost');
    for (const email of [user.email, unknown]) {
      for (let i = 0; i < MAX_ATTEMPTS; i++) expectCodeInvalid(await signIn(email, '000000'));
      const locked = await signIn(email, '000000');
      expect(locked.status).toBe(429);
      expect(codes(locked)).toEqual(['TOO_MANY_REQUESTS']);
    }
    // The password sign-in shares the lockout.
    const login = await t.gql(LOGIN, { input: { email: user.email, password: user.password } });
    expect(codes(login)).toEqual(['TOO_MANY_REQUESTS']);
  });

  it('clears the failures counted so far with a right code', async () => {
    const user = await signUp(t, uniqueEmail('clears'));
    const code = await mailedCode(user.email);
    await signIn(user.email, wrong(code));
    expect(await failuresOf(user.email)).toBe(1);
    expect((await signIn(user.email, code)).body.data?.signInWithCode).toBeTruthy();
    expect(await failuresOf(user.email)).toBeUndefined();
  });

  it('with TOTP on, asks for a TOTP code without using the email code up, and clears failures only with both', async () => {
    const user = await signUpWithTotp(t, uniqueEmail('totp'));
    const code = await mailedCode(user.email);
    await signIn(user.email, wrong(code));
    expect(await failuresOf(user.email)).toBe(1);
    // The email code alone: MFA_REQUIRED, nothing counted, nothing cleared, the code kept.
    expectReason(await signIn(user.email, code), 'UNAUTHENTICATED', 'MFA_REQUIRED');
    expect(await failuresOf(user.email)).toBe(1);
    // A wrong TOTP code counts as a failure and keeps the email code too.
    expectReason(await signIn(user.email, code, { t: 'not-a-code' }), 'UNAUTHENTICATED', 'MFA_INVALID');
    expect(await failuresOf(user.email)).toBe(2);
    // A TOTP code with a wrong email code is just a wrong code.
    expectCodeInvalid(await signIn(user.email, wrong(code), { t: await totpCode(user.secret) }));
    expect(await failuresOf(user.email)).toBe(3);

    const res = await signIn(user.email, code, { t: await totpCode(user.secret) });
    expect(res.body.data?.signInWithCode.user.id).toBe(user.user.id);
    expect(await failuresOf(user.email)).toBeUndefined();
    expectCodeInvalid(await signIn(user.email, code, { t: user.recoveryCodes[0]! }));
  });

  it('signs in with an email code and a recovery code', async () => {
    const user = await signUpWithTotp(t, uniqueEmail('recovery'));
    const code = await mailedCode(user.email);
    const res = await signIn(user.email, code, { t: user.recoveryCodes[0]! });
    expect(res.body.data?.signInWithCode.user.id).toBe(user.user.id);
  });

  it('refuses a disabled account with the right code (FORBIDDEN) and a wrong one like any other', async () => {
    const user = await signUp(t, uniqueEmail('disabled'));
    const code = await mailedCode(user.email);
    // Flipped in the database: disabling through the API drops the code (next test).
    await UserModel.updateOne({ _id: user.user.id }, { $set: { disabled: true } });
    expectCodeInvalid(await signIn(user.email, wrong(code)));
    expectReason(await signIn(user.email, code), 'FORBIDDEN', 'ACCOUNT_DISABLED');
  });

  it('drops a pending code when the account is disabled or deleted', async () => {
    const admin = await logIn(t, ADMIN_EMAIL, ADMIN_PASSWORD);
    const disabled = await signUp(t, uniqueEmail('revoked'));
    const deleted = await signUp(t, uniqueEmail('deleted'));
    const pending = [await mailedCode(disabled.email), await mailedCode(deleted.email)];
    await t.gql(SET_DISABLED, { id: disabled.user.id, d: true }, bearer(admin.accessToken));
    await t.gql(SET_DISABLED, { id: disabled.user.id, d: false }, bearer(admin.accessToken));
    expect((await t.gql(DELETE_ACCOUNT, { p: deleted.password }, bearer(deleted.accessToken))).body.data).toEqual({
      deleteAccount: true,
    });
    for (const { user } of [disabled, deleted]) expect(await SignInCodeModel.countDocuments({ _id: user.id })).toBe(0);
    expectCodeInvalid(await signIn(disabled.email, pending[0]!));
    expectCodeInvalid(await signIn(deleted.email, pending[1]!));
  });

  it('lets exactly one of two parallel sign-ins with one code through', async () => {
    const user = await signUp(t, uniqueEmail('race'));
    const code = await mailedCode(user.email);
    const answers = await Promise.all([signIn(user.email, code), signIn(user.email, code)]);
    expect(answers.filter((r) => r.body.data?.signInWithCode)).toHaveLength(1);
    expectCodeInvalid(answers.find((r) => !r.body.data?.signInWithCode)!);
  });

  it('sends at most 3 code mails per address per 10 minutes, answering true every time', async () => {
    const user = await signUp(t, uniqueEmail('throttle'));
    for (let i = 0; i < 5; i++)
      expect((await t.gql(REQUEST, { e: user.email })).body.data!.requestSignInCode).toBe(true);
    await flushSignInCodes();
    await new Promise((r) => setTimeout(r, 800));
    expect(mailbox.messages.filter(codeMails(user.email))).toHaveLength(3);
  });

  it('puts the refresh token in the cookie with useCookie', async () => {
    const user = await signUp(t, uniqueEmail('cookie'));
    const code = await mailedCode(user.email);
    const res = await signIn(user.email, code, { cookie: true });
    expect(res.body.data!.signInWithCode.refreshToken).toBeNull();
    expect(res.headers.get('set-cookie')).toMatch(/__Host-refresh_token=[^;]+;.*HttpOnly/i);
  });

  it('proveSignInCode (reauthenticate): passes once for the live code, names the wrong one', async () => {
    const user = await signUp(t, uniqueEmail('prove'));
    const code = await mailedCode(user.email);
    const account = (await UserModel.findById(user.user.id).lean<User>())!;
    const caller = { config: t.config, client: { ip: '127.0.0.1' }, logger: t.server.logger };
    expect(await proveSignInCode(account, wrong(code), null, caller)).toBe('emailCode');
    expect(await failuresOf(user.email)).toBe(1);
    expect(await proveSignInCode(account, code, null, caller)).toBeNull();
    expect(await failuresOf(user.email)).toBeUndefined();
    expect(await proveSignInCode(account, code, null, caller)).toBe('emailCode');
  });

  it('loses no code mail during an SMTP outage', async () => {
    const user = await signUp(t, uniqueEmail('outage'));
    await mailbox.stop();
    expect((await t.gql(REQUEST, { e: user.email })).body.data).toEqual({ requestSignInCode: true });
    await flushSignInCodes();
    await new Promise((r) => setTimeout(r, 500));
    await mailbox.start();
    const code = codeIn(await mailbox.waitFor(codeMails(user.email), 10_000));
    expect((await signIn(user.email, code)).body.data?.signInWithCode.user.id).toBe(user.user.id);
  });
});

describe('requestSignInCode per client IP (RATE_LIMIT_PER_IP=2)', () => {
  let limited: TestServer;
  beforeAll(async () => {
    limited = await startTestServer({ SMTP_URL: mailbox.url, RATE_LIMIT_PER_IP: '2' });
  });
  afterAll(() => limited.stop());

  it('answers 429 with Retry-After once one address asked too often, whatever the emails', async () => {
    for (let i = 0; i < 2; i++)
      expect((await limited.gql(REQUEST, { e: uniqueEmail() })).body.data).toEqual({ requestSignInCode: true });
    const res = await limited.gql(REQUEST, { e: uniqueEmail() });
    expect(res.status).toBe(429);
    expect(codes(res)).toEqual(['TOO_MANY_REQUESTS']);
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
  });
});
