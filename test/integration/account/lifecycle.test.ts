import mongoose from 'mongoose';
import { flushPasswordResets } from '../../../src/account/password-reset.service';
import { flushAuditEvents } from '../../../src/audit/audit.service';
import {
  basic,
  bearer,
  LOGIN,
  ME,
  REFRESH,
  REGISTER,
  signUp,
  strongPassword,
  uniqueEmail,
  type Payload,
} from '../../helpers/auth';
import { codes, type GraphQLResponse } from '../../helpers/graphql';
import { startMailbox, type Mailbox, type ReceivedMail } from '../../helpers/mailbox';
import { startTestServer, type TestServer } from '../../helpers/server';

const VERIFY = 'mutation($t: String!) { verifyEmail(token: $t) { id email emailVerified } }';
const REQUEST_VERIFICATION = 'mutation { requestEmailVerification }';
const REQUEST_RESET = 'mutation($e: String!) { requestPasswordReset(email: $e) }';
const RESET = `mutation($t: String!, $p: String!) { resetPassword(token: $t, newPassword: $p) { accessToken refreshToken user { id email emailVerified } } }`;
const REQUEST_CHANGE = 'mutation($e: String!, $p: String!) { requestEmailChange(newEmail: $e, currentPassword: $p) }';
const CONFIRM_CHANGE = 'mutation($t: String!) { confirmEmailChange(token: $t) { id email emailVerified } }';

let mailbox: Mailbox;
beforeAll(async () => {
  mailbox = await startMailbox();
});
afterAll(() => mailbox.stop());

const to = (address: string, subject?: RegExp) => (m: ReceivedMail) =>
  m.to === address && (!subject || subject.test(m.subject));
const expectInvalidToken = (res: GraphQLResponse) => {
  expect(codes(res)).toEqual(['BAD_USER_INPUT']);
  expect(res.body.errors![0]!.extensions!.field).toBe('token');
};

describe('account lifecycle over real SMTP', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer({
      SMTP_URL: mailbox.url,
      LOGIN_MAX_ATTEMPTS: '3',
      PUBLIC_URL: 'https://app.example.com',
    });
  });
  afterAll(() => t.stop());

  describe('email verification', () => {
    it('register mails a link; following it verifies the address; the link is single use', async () => {
      const user = await signUp(t, uniqueEmail('verify'));
      const mail = await mailbox.waitFor(to(user.email, /verif|confirm/i));
      expect(mailbox.link(mail).origin + mailbox.link(mail).pathname).toBe(
        'https://app.example.com/account/verify-email',
      );
      const token = mailbox.linkToken(mail);
      expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
      const res = await t.gql(VERIFY, { t: token });
      expect(res.body.data!.verifyEmail).toEqual({ id: user.user.id, email: user.email, emailVerified: true });
      expectInvalidToken(await t.gql(VERIFY, { t: token }));
      expect((await t.gql(REQUEST_VERIFICATION, {}, bearer(user.accessToken))).body.data).toEqual({
        requestEmailVerification: false,
      });
      // Only the hash of the token is stored.
      const stored = JSON.stringify(await mongoose.connection.db!.collection('account_tokens').find().toArray());
      expect(stored).not.toContain(token);
    });

    it('a new link invalidates the older one', async () => {
      const user = await signUp(t, uniqueEmail('again'));
      const first = mailbox.linkToken(await mailbox.waitFor(to(user.email)));
      expect((await t.gql(REQUEST_VERIFICATION, {}, bearer(user.accessToken))).body.data).toEqual({
        requestEmailVerification: true,
      });
      await mailbox.waitFor((m) => m.to === user.email && mailbox.linkToken(m) !== first);
      const second = mailbox.messages.filter(to(user.email)).map((m) => mailbox.linkToken(m))[1]!;
      expectInvalidToken(await t.gql(VERIFY, { t: first }));
      expect((await t.gql(VERIFY, { t: second })).body.data!.verifyEmail.emailVerified).toBe(true);
    });

    it('limits requestEmailVerification to 3 mails an hour (TOO_MANY_REQUESTS)', async () => {
      const user = await signUp(t, uniqueEmail('flood'));
      for (let i = 0; i < 3; i++)
        expect((await t.gql(REQUEST_VERIFICATION, {}, bearer(user.accessToken))).body.data).toEqual({
          requestEmailVerification: true,
        });
      expect(codes(await t.gql(REQUEST_VERIFICATION, {}, bearer(user.accessToken)))).toEqual(['TOO_MANY_REQUESTS']);
    });

    it('refuses to verify or change the email of a disabled account', async () => {
      const user = await signUp(t, uniqueEmail('off'));
      const token = mailbox.linkToken(await mailbox.waitFor(to(user.email)));
      await mongoose.connection.db!.collection('users').updateOne({ email: user.email }, { $set: { disabled: true } });
      expectInvalidToken(await t.gql(VERIFY, { t: token }));
    });

    it('answers invalid, malformed and expired tokens with the same BAD_USER_INPUT (field token)', async () => {
      const user = await signUp(t, uniqueEmail('expired'));
      const token = mailbox.linkToken(await mailbox.waitFor(to(user.email)));
      await mongoose.connection
        .db!.collection('account_tokens')
        .updateMany({ userId: user.user.id }, { $set: { expiresAt: new Date(Date.now() - 1000) } });
      const answers = [
        await t.gql(VERIFY, { t: token }),
        await t.gql(VERIFY, { t: 'A'.repeat(43) }),
        await t.gql(VERIFY, { t: 'nope' }),
      ];
      for (const res of answers) expectInvalidToken(res);
      expect(new Set(answers.map((r) => r.body.errors![0]!.message)).size).toBe(1);
    });
  });

  describe('password reset', () => {
    it('answers true alike for existing, unknown and disabled accounts; mails only the existing enabled one', async () => {
      const existing = await signUp(t, uniqueEmail('reset'));
      const disabled = await signUp(t, uniqueEmail('disabled'));
      await mongoose.connection
        .db!.collection('users')
        .updateOne({ email: disabled.email }, { $set: { disabled: true } });
      const unknown = uniqueEmail('nobody');
      const answers = await Promise.all(
        [existing.email, unknown, disabled.email].map((e) => t.gql(REQUEST_RESET, { e })),
      );
      for (const res of answers) {
        expect(res.status).toBe(200);
        expect(res.body).toEqual({ data: { requestPasswordReset: true } });
      }
      await flushPasswordResets();
      await mailbox.waitFor(to(existing.email, /password/i));
      await new Promise((r) => setTimeout(r, 300));
      expect(
        mailbox.messages.filter((m) => m.to === unknown || (m.to === disabled.email && /reset/i.test(m.subject))),
      ).toEqual([]);
      expect(codes(await t.gql(REQUEST_RESET, { e: 'not-an-email' }))).toEqual(['BAD_USER_INPUT']);
    });

    it('resets with the link: refused password keeps the link, then signs in, ends other sessions, clears the lockout, verifies, notifies', async () => {
      const user = await signUp(t, uniqueEmail('forgot'));
      for (let i = 0; i < 3; i++) await t.gql(LOGIN, { input: { email: user.email, password: 'Wrong-Password-99' } });
      expect(codes(await t.gql(LOGIN, { input: { email: user.email, password: user.password } }))).toEqual([
        'TOO_MANY_REQUESTS',
      ]);
      await t.gql(REQUEST_RESET, { e: user.email });
      const token = mailbox.linkToken(await mailbox.waitFor(to(user.email, /reset/i)));

      const weak = await t.gql(RESET, { t: token, p: 'password123' });
      expect(codes(weak)).toEqual(['BAD_USER_INPUT']);
      expect(weak.body.errors![0]!.extensions!.field).toBe('newPassword');

      const newPassword = strongPassword();
      const res = await t.gql<{ resetPassword: Payload }>(RESET, { t: token, p: newPassword });
      const payload = res.body.data!.resetPassword;
      expect(payload.user).toEqual({ id: user.user.id, email: user.email, emailVerified: true });
      expect((await t.gql(ME, {}, bearer(payload.accessToken))).body.data!.me.id).toBe(user.user.id);
      expect((await t.gql(ME, {}, bearer(user.accessToken))).status).toBe(401);
      expect(codes(await t.gql(REFRESH, { t: user.refreshToken }))).toEqual(['UNAUTHENTICATED']);
      expect(
        (await t.gql(LOGIN, { input: { email: user.email, password: newPassword } })).body.data?.login,
      ).toBeTruthy();
      expectInvalidToken(await t.gql(RESET, { t: token, p: strongPassword() }));
      await mailbox.waitFor(to(user.email, /changed/i));
      await flushAuditEvents();
    });

    it('sends at most 3 reset mails per email per window, answering true every time', async () => {
      const user = await signUp(t, uniqueEmail('throttle'));
      for (let i = 0; i < 5; i++)
        expect((await t.gql(REQUEST_RESET, { e: user.email })).body.data!.requestPasswordReset).toBe(true);
      await flushPasswordResets();
      await new Promise((r) => setTimeout(r, 800));
      expect(mailbox.messages.filter(to(user.email, /reset/i))).toHaveLength(3);
    });
  });

  describe('email change', () => {
    it('mails the new address, switches on confirmation, ends other sessions and tells the old address', async () => {
      const user = await signUp(t, uniqueEmail('mover'));
      // A proven old address: the notice may name the new one (see the unproven case below).
      await t.gql(VERIFY, { t: mailbox.linkToken(await mailbox.waitFor(to(user.email, /confirm/i))) });
      const other = (await t.gql<{ login: Payload }>(LOGIN, { input: { email: user.email, password: user.password } }))
        .body.data!.login;
      const newEmail = uniqueEmail('moved');
      // A script's HTTP Basic check with the old address is cached now...
      expect((await t.gql(ME, {}, basic(user.email, user.password))).body.data!.me.id).toBe(user.user.id);
      expect(
        (await t.gql(REQUEST_CHANGE, { e: newEmail, p: user.password }, bearer(user.accessToken))).body.data,
      ).toEqual({
        requestEmailChange: true,
      });
      const token = mailbox.linkToken(await mailbox.waitFor(to(newEmail)));
      const res = await t.gql(CONFIRM_CHANGE, { t: token }, bearer(user.accessToken));
      expect(res.body.data!.confirmEmailChange).toEqual({ id: user.user.id, email: newEmail, emailVerified: true });
      const notice = await mailbox.waitFor(to(user.email, /was changed/i));
      expect(notice.text).toContain(newEmail);
      // The caller's session stays; the other one ends.
      expect((await t.gql(ME, {}, bearer(user.accessToken))).body.data!.me.email).toBe(newEmail);
      expect((await t.gql(ME, {}, bearer(other.accessToken))).status).toBe(401);
      // ...and stops working with the change, cache or not.
      expect((await t.gql(ME, {}, basic(user.email, user.password))).status).toBe(401);
      expect(
        (await t.gql(LOGIN, { input: { email: newEmail, password: user.password } })).body.data?.login,
      ).toBeTruthy();
      expect(codes(await t.gql(LOGIN, { input: { email: user.email, password: user.password } }))).toEqual([
        'UNAUTHENTICATED',
      ]);
    });

    it('refuses an address in use (CONFLICT), at the request and again at confirmation', async () => {
      const user = await signUp(t, uniqueEmail('a'));
      const taken = await signUp(t, uniqueEmail('b'));
      const conflict = await t.gql(REQUEST_CHANGE, { e: taken.email, p: user.password }, bearer(user.accessToken));
      expect(codes(conflict)).toEqual(['CONFLICT']);
      const later = uniqueEmail('later');
      await t.gql(REQUEST_CHANGE, { e: later, p: user.password }, bearer(user.accessToken));
      const token = mailbox.linkToken(await mailbox.waitFor(to(later)));
      await t.gql(REGISTER, { input: { email: later, password: strongPassword() } });
      expect(codes(await t.gql(CONFIRM_CHANGE, { t: token }))).toEqual(['CONFLICT']);
      expect((await t.gql(ME, {}, bearer(user.accessToken))).body.data!.me.email).toBe(user.email);
    });

    it('cancels a pending email change when the password is reset, changed, or the account disabled', async () => {
      // Someone who knows the password asks to move the account to their own address...
      const user = await signUp(t, uniqueEmail('victim'));
      const attacker = uniqueEmail('attacker');
      await t.gql(REQUEST_CHANGE, { e: attacker, p: user.password }, bearer(user.accessToken));
      const stolen = mailbox.linkToken(await mailbox.waitFor(to(attacker)));
      // ...and the owner resets the password: the pending change is void.
      await t.gql(REQUEST_RESET, { e: user.email });
      const reset = mailbox.linkToken(await mailbox.waitFor(to(user.email, /reset/i)));
      expect((await t.gql(RESET, { t: reset, p: strongPassword() })).body.data?.resetPassword).toBeTruthy();
      expectInvalidToken(await t.gql(CONFIRM_CHANGE, { t: stolen }));

      const other = await signUp(t, uniqueEmail('changer'));
      const target = uniqueEmail('target');
      await t.gql(REQUEST_CHANGE, { e: target, p: other.password }, bearer(other.accessToken));
      const pending = mailbox.linkToken(await mailbox.waitFor(to(target)));
      await t.gql(
        'mutation($c: String!, $n: String!) { changePassword(currentPassword: $c, newPassword: $n) { accessToken } }',
        { c: other.password, n: strongPassword() },
        bearer(other.accessToken),
      );
      expectInvalidToken(await t.gql(CONFIRM_CHANGE, { t: pending }));
    });

    it('limits email change mails to 3 an hour per account and per recipient (TOO_MANY_REQUESTS)', async () => {
      const user = await signUp(t, uniqueEmail('spammer'));
      const victim = uniqueEmail('inbox');
      for (let i = 0; i < 3; i++)
        expect(
          (await t.gql(REQUEST_CHANGE, { e: victim, p: user.password }, bearer(user.accessToken))).body.data,
        ).toEqual({
          requestEmailChange: true,
        });
      const limited = await t.gql(REQUEST_CHANGE, { e: victim, p: user.password }, bearer(user.accessToken));
      expect(codes(limited)).toEqual(['TOO_MANY_REQUESTS']);
      expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
      // Another account cannot keep mailing the same inbox either.
      const second = await signUp(t, uniqueEmail('spammer2'));
      expect(codes(await t.gql(REQUEST_CHANGE, { e: victim, p: second.password }, bearer(second.accessToken)))).toEqual(
        ['TOO_MANY_REQUESTS'],
      );
    });

    it('counts a wrong current password as a failed sign-in', async () => {
      const user = await signUp(t, uniqueEmail('guess'));
      for (let i = 0; i < 3; i++) {
        const res = await t.gql(REQUEST_CHANGE, { e: uniqueEmail(), p: 'Wrong-Password-99' }, bearer(user.accessToken));
        expect(codes(res)).toEqual(['BAD_USER_INPUT']);
        expect(res.body.errors![0]!.extensions!.field).toBe('currentPassword');
      }
      expect(codes(await t.gql(LOGIN, { input: { email: user.email, password: user.password } }))).toEqual([
        'TOO_MANY_REQUESTS',
      ]);
    });
  });

  describe('text the requester chose, in mail to addresses nobody has proven', () => {
    // Passes the display name rules (no link, no address) and still reads like a notice from us.
    const NAME = 'Security team: your account is locked, call support now';
    const UPDATE_PROFILE = 'mutation($n: String) { updateProfile(input: { displayName: $n }) { id } }';
    const carries = (mail: ReceivedMail, text: string) => mail.text.includes(text) || mail.html.includes(text);
    const mailsTo = (address: string, subject: RegExp) => mailbox.messages.filter(to(address, subject));
    async function nthMail(address: string, subject: RegExp, n: number): Promise<ReceivedMail> {
      await mailbox.waitFor(() => mailsTo(address, subject).length >= n);
      return mailsTo(address, subject)[n - 1]!;
    }

    it('register and requestEmailVerification mail the new address without the display name', async () => {
      const email = uniqueEmail('named');
      const res = await t.gql<{ register: Payload }>(REGISTER, {
        input: { email, password: strongPassword(), displayName: NAME },
      });
      expect(codes(res)).toEqual([]);
      const first = await nthMail(email, /confirm/i, 1);
      expect(carries(first, NAME)).toBe(false);
      expect(carries(first, 'Security team')).toBe(false);
      const again = await t.gql(REQUEST_VERIFICATION, {}, bearer(res.body.data!.register.accessToken));
      expect(again.body.data).toEqual({ requestEmailVerification: true });
      const second = await nthMail(email, /confirm/i, 2);
      expect(mailbox.linkToken(second)).not.toBe(mailbox.linkToken(first));
      expect(carries(second, NAME)).toBe(false);
      expect(carries(second, 'Security team')).toBe(false);
    });

    it('the email change confirmation to the new address carries no display name, nor the notice to an unproven old one', async () => {
      const user = await signUp(t, uniqueEmail('unproven'));
      expect(codes(await t.gql(UPDATE_PROFILE, { n: NAME }, bearer(user.accessToken)))).toEqual([]);
      const newEmail = uniqueEmail('target');
      const requested = await t.gql(REQUEST_CHANGE, { e: newEmail, p: user.password }, bearer(user.accessToken));
      expect(requested.body.data).toEqual({ requestEmailChange: true });
      const confirmation = await mailbox.waitFor(to(newEmail));
      expect(carries(confirmation, NAME)).toBe(false);
      expect(carries(confirmation, 'Security team')).toBe(false);
      const confirmed = await t.gql(CONFIRM_CHANGE, { t: mailbox.linkToken(confirmation) }, bearer(user.accessToken));
      expect(codes(confirmed)).toEqual([]);
      // The old address was never proven: its notice names neither the account nor the new address.
      const notice = await mailbox.waitFor(to(user.email, /was changed/i));
      expect(carries(notice, NAME)).toBe(false);
      expect(carries(notice, newEmail)).toBe(false);
    });

    it('a password reset link greets by name only at an address the account has proven', async () => {
      const unproven = await signUp(t, uniqueEmail('reset-unproven'));
      await t.gql(UPDATE_PROFILE, { n: NAME }, bearer(unproven.accessToken));
      await t.gql(REQUEST_RESET, { e: unproven.email });
      await flushPasswordResets();
      expect(carries(await mailbox.waitFor(to(unproven.email, /reset/i)), NAME)).toBe(false);

      const proven = await signUp(t, uniqueEmail('reset-proven'));
      await t.gql(VERIFY, { t: mailbox.linkToken(await mailbox.waitFor(to(proven.email, /confirm/i))) });
      await t.gql(UPDATE_PROFILE, { n: 'Ada Lovelace' }, bearer(proven.accessToken));
      await t.gql(REQUEST_RESET, { e: proven.email });
      await flushPasswordResets();
      expect(carries(await mailbox.waitFor(to(proven.email, /reset/i)), 'Ada Lovelace')).toBe(true);
    });
  });

  it('records PASSWORD_RESET, EMAIL_VERIFIED and EMAIL_CHANGED audit events', async () => {
    await flushAuditEvents();
    const types = (await mongoose.connection.db!.collection('audit_events').distinct('type')) as string[];
    expect(types).toEqual(expect.arrayContaining(['PASSWORD_RESET', 'EMAIL_VERIFIED', 'EMAIL_CHANGED']));
  });
});

describe('requestPasswordReset per client IP (RATE_LIMIT_PER_IP=2)', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer({ SMTP_URL: mailbox.url, RATE_LIMIT_PER_IP: '2' });
  });
  afterAll(() => t.stop());

  it('answers 429 with Retry-After once one address asked too often, whatever the emails', async () => {
    for (let i = 0; i < 2; i++)
      expect((await t.gql(REQUEST_RESET, { e: uniqueEmail() })).body.data).toEqual({ requestPasswordReset: true });
    const limited = await t.gql(REQUEST_RESET, { e: uniqueEmail() });
    expect(limited.status).toBe(429);
    expect(codes(limited)).toEqual(['TOO_MANY_REQUESTS']);
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
  });
});

describe('REQUIRE_EMAIL_VERIFICATION=true', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer({ SMTP_URL: mailbox.url, REQUIRE_EMAIL_VERIFICATION: 'true' });
  });
  afterAll(() => t.stop());

  it('refuses an unverified login with FORBIDDEN/EMAIL_NOT_VERIFIED, lets Basic and the register token ask for a link, and signs in once verified', async () => {
    const email = uniqueEmail('strict');
    const password = strongPassword();
    const reg = await t.gql<{ register: Payload }>(REGISTER, { input: { email, password } });
    const registered = reg.body.data!.register;
    const login = await t.gql(LOGIN, { input: { email, password } });
    expect(codes(login)).toEqual(['FORBIDDEN']);
    expect(login.body.errors![0]!.extensions!.reason).toBe('EMAIL_NOT_VERIFIED');
    // Everything but asking for a link is refused to the unverified account.
    const items = await t.gql('{ items { totalCount } }', {}, bearer(registered.accessToken));
    expect(items.body.errors![0]!.extensions).toMatchObject({ code: 'FORBIDDEN', reason: 'EMAIL_NOT_VERIFIED' });
    expect((await t.gql(REQUEST_VERIFICATION, {}, bearer(registered.accessToken))).body.data).toEqual({
      requestEmailVerification: true,
    });
    expect((await t.gql(REQUEST_VERIFICATION, {}, basic(email, password))).body.data).toEqual({
      requestEmailVerification: true,
    });
    await mailbox.waitFor((m) => m.to === email && mailbox.messages.filter(to(email)).length >= 3);
    const token = mailbox.linkToken(mailbox.messages.filter(to(email)).at(-1)!);
    expect((await t.gql(VERIFY, { t: token })).body.data!.verifyEmail.emailVerified).toBe(true);
    expect((await t.gql(LOGIN, { input: { email, password } })).body.data?.login).toBeTruthy();
  });
});

describe('mail during an SMTP outage', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer({ SMTP_URL: mailbox.url });
  });
  afterAll(() => t.stop());

  it('register succeeds while the SMTP server is down; the mail arrives once it is back', async () => {
    await mailbox.stop();
    const email = uniqueEmail('outage');
    const started = Date.now();
    const res = await t.gql(REGISTER, { input: { email, password: strongPassword() } });
    expect(res.body.data?.register).toBeTruthy();
    expect(Date.now() - started).toBeLessThan(5000);
    await new Promise((r) => setTimeout(r, 500));
    await mailbox.start();
    const mail = await mailbox.waitFor(to(email), 10_000);
    expect(mailbox.linkToken(mail)).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });
});
