import { basic, bearer, LOGIN, signUp } from '../../helpers/auth';
import { codes, type GraphQLResponse } from '../../helpers/graphql';
import { startMailbox, type Mailbox, type ReceivedMail } from '../../helpers/mailbox';
import { startTestServer, type TestServer } from '../../helpers/server';

const ME = '{ me { email hasPassword emailVerified } }';
const SET_PASSWORD = 'mutation($p: String!) { setPassword(newPassword: $p) { email hasPassword } }';
const REAUTH = 'mutation($i: ReauthenticateInput!) { reauthenticate(input: $i) { expiresAt } }';
const SIGN_IN_WITH_CODE =
  'mutation($e: String!, $c: String!) { signInWithCode(email: $e, code: $c) { accessToken user { hasPassword } } }';

let t: TestServer;
let mailbox: Mailbox;
beforeAll(async () => {
  mailbox = await startMailbox();
  t = await startTestServer({ SMTP_URL: mailbox.url });
});
afterAll(async () => {
  await t.stop();
  await mailbox.stop();
});

function mailsTo(email: string, subject: RegExp): ReceivedMail[] {
  return mailbox.messages.filter((m) => m.to === email && subject.test(m.subject));
}

/** Asks for a sign-in code and answers it from the mail. */
async function mailedCode(email: string): Promise<string> {
  const before = mailsTo(email, /sign-in code/i).length;
  await t.gql('mutation($e: String!) { requestSignInCode(email: $e) }', { e: email });
  await mailbox.waitFor(() => mailsTo(email, /sign-in code/i).length > before);
  return /code is (\d{6})\b/.exec(mailsTo(email, /sign-in code/i).at(-1)!.text)![1]!;
}

/**
 * An account without a password, made the way the product makes one today: registered by someone
 * who never proved the address, then claimed by its first emailed code (src/passwordless).
 */
async function passwordlessAccount() {
  const registered = await signUp(t);
  const res = await t.gql(SIGN_IN_WITH_CODE, { e: registered.email, c: await mailedCode(registered.email) });
  const { accessToken, user } = res.body.data!.signInWithCode as {
    accessToken: string;
    user: { hasPassword: boolean };
  };
  expect(user.hasPassword).toBe(false);
  return { email: registered.email, oldPassword: registered.password, accessToken };
}

function reason(res: GraphQLResponse): unknown {
  return res.body.errors?.[0]?.extensions?.reason;
}

describe('an account without a password', () => {
  it('answers every password sign-in exactly as a wrong password', async () => {
    const account = await passwordlessAccount();
    const wrongForOther = await t.gql(LOGIN, {
      input: { email: (await signUp(t)).email, password: 'Not-The-One-123' },
    });
    const login = await t.gql(LOGIN, { input: { email: account.email, password: account.oldPassword } });
    expect(login.body.errors).toEqual(wrongForOther.body.errors);
    expect(reason(login)).toBe('BAD_CREDENTIALS');
    const viaBasic = await t.gql(ME, {}, basic(account.email, account.oldPassword));
    expect(codes(viaBasic)).toEqual(['UNAUTHENTICATED']);
    // The OAuth password grant, too, says what it says for a wrong password.
    const grant = (username: string) =>
      fetch(`${t.url}/oauth/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ grant_type: 'password', username, password: account.oldPassword }).toString(),
      }).then(async (res) => ({ status: res.status, body: await res.json() }));
    const other = await signUp(t);
    expect(await grant(account.email)).toEqual(await grant(other.email));
    // A currentPassword cannot be right either.
    const change = await t.gql(
      'mutation($p: String!) { changePassword(currentPassword: $p, newPassword: "Some-New-Horse-77") { accessToken } }',
      { p: account.oldPassword },
      bearer(account.accessToken),
    );
    expect(codes(change)).toEqual(['BAD_USER_INPUT']);
  });

  it('gets a first password from setPassword inside the re-authentication window, once', async () => {
    const account = await passwordlessAccount();
    const auth = bearer(account.accessToken);
    expect((await t.gql(ME, {}, auth)).body.data!.me).toMatchObject({ hasPassword: false, emailVerified: true });
    expect(reason(await t.gql(SET_PASSWORD, { p: 'Brand-New-Lantern-42' }, auth))).toBe('REAUTHENTICATION_REQUIRED');
    const opened = await t.gql(REAUTH, { i: { emailCode: await mailedCode(account.email) } }, auth);
    expect(opened.body.errors).toBeUndefined();
    expect(codes(await t.gql(SET_PASSWORD, { p: 'password' }, auth))).toEqual(['BAD_USER_INPUT']);
    const set = await t.gql(SET_PASSWORD, { p: 'Brand-New-Lantern-42' }, auth);
    expect(set.body.data!.setPassword).toEqual({ email: account.email, hasPassword: true });
    const login = await t.gql(LOGIN, { input: { email: account.email, password: 'Brand-New-Lantern-42' } });
    expect(login.body.data!.login.accessToken).toEqual(expect.any(String));
    const again = await t.gql(SET_PASSWORD, { p: 'Another-New-Lantern-43' }, auth);
    expect(codes(again)).toEqual(['CONFLICT']);
    expect(reason(again)).toBe('PASSWORD_EXISTS');
  });

  it('gets a first password from a reset link', async () => {
    const account = await passwordlessAccount();
    await t.gql('mutation($e: String!) { requestPasswordReset(email: $e) }', { e: account.email });
    await mailbox.waitFor((m) => m.to === account.email && /reset/i.test(m.subject));
    const token = mailbox.linkToken(mailsTo(account.email, /reset/i).at(-1)!);
    const reset = await t.gql(
      'mutation($t: String!, $p: String!) { resetPassword(token: $t, newPassword: $p) { user { hasPassword } } }',
      { t: token, p: 'Reset-Gives-First-99' },
    );
    expect(reset.body.data!.resetPassword.user.hasPassword).toBe(true);
  });

  it('is not what an account with a password answers', async () => {
    const user = await signUp(t);
    expect((await t.gql(ME, {}, bearer(user.accessToken))).body.data!.me.hasPassword).toBe(true);
    expect(reason(await t.gql(SET_PASSWORD, { p: 'Brand-New-Lantern-42' }, bearer(user.accessToken)))).toBe(
      'PASSWORD_EXISTS',
    );
  });
});
