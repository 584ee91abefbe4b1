import { Writable } from 'node:stream';
import pino from 'pino';
import { AuditEventModel, AuditEventType } from '../../../src/audit/audit.model';
import { flushAuditEvents } from '../../../src/audit/audit.service';
import { Session, SessionModel } from '../../../src/auth/session.model';
import { TotpCredentialModel } from '../../../src/mfa/totp.model';
import { User, UserModel } from '../../../src/users/user.model';
import { bearer, LOGIN, logIn, ME, REFRESH, signUp, strongPassword, uniqueEmail } from '../../helpers/auth';
import { codes, type GraphQLResponse } from '../../helpers/graphql';
import { startMailbox, type Mailbox } from '../../helpers/mailbox';
import { startTestServer, type TestServer } from '../../helpers/server';
import { beginSetup, signUpWithTotp, totpCode } from '../../helpers/totp';

const REQUEST_RESET = 'mutation($e: String!) { requestPasswordReset(email: $e) }';
const RESET =
  'mutation($t: String!, $p: String!, $c: String) { resetPassword(token: $t, newPassword: $p, totpCode: $c) { accessToken refreshToken user { id } } }';
const DISABLE = 'mutation($p: String!, $c: String!) { disableTotp(currentPassword: $p, code: $c) }';
const BEGIN = 'mutation($p: String!) { beginTotpSetup(currentPassword: $p) { secret } }';
const CONFIRM = 'mutation($c: String!) { confirmTotpSetup(code: $c) }';
const ME_TOTP = '{ me { id totpEnabled } }';
const REQUEST_CHANGE = 'mutation($e: String!, $p: String!) { requestEmailChange(newEmail: $e, currentPassword: $p) }';
/** The default lockout: LOGIN_MAX_ATTEMPTS failures per email. */
const MAX_ATTEMPTS = 5;

const RESET_TOTP = 'mutation($id: ID!) { resetUserTotp(userId: $id) { id totpEnabled } }';
const REGENERATE = 'mutation($p: String!, $c: String!) { regenerateRecoveryCodes(currentPassword: $p, code: $c) }';
const ADMIN_EMAIL = uniqueEmail('admin');
const ADMIN_PASSWORD = strongPassword();

let t: TestServer;
let mailbox: Mailbox;
const lines: Record<string, unknown>[] = [];

beforeAll(async () => {
  mailbox = await startMailbox();
  // The server's log, as JSON lines in memory.
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(line));
      done();
    },
  });
  t = await startTestServer({ SMTP_URL: mailbox.url, ADMIN_EMAIL, ADMIN_PASSWORD }, pino({ level: 'info' }, sink));
});
afterAll(async () => {
  await t.stop();
  await mailbox.stop();
});

function expectReason(res: GraphQLResponse, code: string, reason: string) {
  expect(codes(res)).toEqual([code]);
  expect(res.body.errors![0]!.extensions!.reason).toBe(reason);
}

function login(user: { email: string; password: string }, code?: string) {
  return t.gql(LOGIN, { input: { email: user.email, password: user.password, totpCode: code } });
}

/** Requests a reset link for `email` and returns the token from the mail. */
async function resetToken(email: string): Promise<string> {
  const before = mailbox.messages.length;
  await t.gql(REQUEST_RESET, { e: email });
  const mail = await mailbox.waitFor(
    (m) => m.to === email && /reset/i.test(m.subject) && mailbox.messages.indexOf(m) >= before,
  );
  return mailbox.linkToken(mail);
}

describe('Mutation.resetPassword with TOTP on', () => {
  it('answers MFA_REQUIRED without a code, before the link is used up, and leaves the password as it was', async () => {
    const user = await signUpWithTotp(t);
    const token = await resetToken(user.email);
    const newPassword = strongPassword();
    expectReason(await t.gql(RESET, { t: token, p: newPassword }), 'UNAUTHENTICATED', 'MFA_REQUIRED');
    // Nothing changed: the old password still leads to the code prompt, the old session still works.
    expectReason(await login(user), 'UNAUTHENTICATED', 'MFA_REQUIRED');
    expect((await t.gql(ME, {}, bearer(user.accessToken))).status).toBe(200);

    // The same link with a code resets and signs in.
    const res = await t.gql(RESET, { t: token, p: newPassword, c: await totpCode(user.secret) });
    expect(codes(res)).toEqual([]);
    const signedIn = res.body.data!.resetPassword as { accessToken: string; user: { id: string } };
    expect(signedIn.user.id).toBe(user.user.id);
    expect((await t.gql(ME, {}, bearer(signedIn.accessToken))).body.data!.me.id).toBe(user.user.id);
    expect((await t.gql(ME, {}, bearer(user.accessToken))).status).toBe(401);
    // Still two factors at the next sign-in, with the new password.
    expectReason(await login({ ...user, password: newPassword }), 'UNAUTHENTICATED', 'MFA_REQUIRED');
    // The link is used up now.
    expect(codes(await t.gql(RESET, { t: token, p: strongPassword(), c: await totpCode(user.secret, 1) }))).toEqual([
      'BAD_USER_INPUT',
    ]);
  });

  it('refuses a wrong code with MFA_INVALID, counted towards the lockout, and keeps the link usable', async () => {
    const user = await signUpWithTotp(t);
    const token = await resetToken(user.email);
    for (let i = 0; i < MAX_ATTEMPTS - 1; i++) {
      expectReason(
        await t.gql(RESET, { t: token, p: strongPassword(), c: '000000' }),
        'UNAUTHENTICATED',
        'MFA_INVALID',
      );
    }
    // The link still works with the right code; both factors passed, so the failures are cleared.
    const res = await t.gql(RESET, { t: token, p: strongPassword(), c: await totpCode(user.secret) });
    expect(codes(res)).toEqual([]);
    await flushAuditEvents();
    expect(await AuditEventModel.countDocuments({ userId: user.user.id, type: AuditEventType.LOGIN_FAILED })).toBe(
      MAX_ATTEMPTS - 1,
    );
  });

  it('locks after LOGIN_MAX_ATTEMPTS wrong codes: the link cannot clear the lockout without the second factor', async () => {
    const user = await signUpWithTotp(t);
    const token = await resetToken(user.email);
    for (let i = 0; i < MAX_ATTEMPTS; i++) {
      expectReason(
        await t.gql(RESET, { t: token, p: strongPassword(), c: '000000' }),
        'UNAUTHENTICATED',
        'MFA_INVALID',
      );
    }
    const current = await totpCode(user.secret);
    expect(codes(await t.gql(RESET, { t: token, p: strongPassword(), c: current }))).toEqual(['TOO_MANY_REQUESTS']);
    expect(codes(await login(user, current))).toEqual(['TOO_MANY_REQUESTS']);
  });

  it('accepts a recovery code once, and audits it', async () => {
    const user = await signUpWithTotp(t);
    const [recovery] = user.recoveryCodes;
    const first = await t.gql(RESET, { t: await resetToken(user.email), p: strongPassword(), c: recovery });
    expect(codes(first)).toEqual([]);
    const again = await t.gql(RESET, { t: await resetToken(user.email), p: strongPassword(), c: recovery });
    expectReason(again, 'UNAUTHENTICATED', 'MFA_INVALID');
    await flushAuditEvents();
    const used = await AuditEventModel.find({ userId: user.user.id, type: AuditEventType.MFA_RECOVERY_CODE_USED })
      .lean<{ details?: { via?: string } }[]>()
      .exec();
    expect(used.map((e) => e.details?.via)).toEqual(['resetPassword']);
  });

  it('still resets without a code when TOTP is off', async () => {
    const user = await signUp(t, uniqueEmail('no-totp'));
    const res = await t.gql(RESET, { t: await resetToken(user.email), p: strongPassword() });
    expect(codes(res)).toEqual([]);
  });
});

describe('the lockout with TOTP on', () => {
  it('is not cleared by a right password alone: 4 wrong codes, a password-only success, the 5th wrong code locks', async () => {
    const user = await signUpWithTotp(t);
    for (let i = 0; i < MAX_ATTEMPTS - 1; i++) {
      const res = await t.gql(DISABLE, { p: user.password, c: '000000' }, bearer(user.accessToken));
      expect(codes(res)).toEqual(['BAD_USER_INPUT']);
      expect(res.body.errors![0]!.extensions!.field).toBe('code');
    }
    const passwordOnly = await t.gql(
      REQUEST_CHANGE,
      { e: uniqueEmail('moved'), p: user.password },
      bearer(user.accessToken),
    );
    expect(passwordOnly.body.data).toEqual({ requestEmailChange: true });
    expect(codes(await t.gql(DISABLE, { p: user.password, c: '000000' }, bearer(user.accessToken)))).toEqual([
      'BAD_USER_INPUT',
    ]);
    expect(codes(await login(user, await totpCode(user.secret)))).toEqual(['TOO_MANY_REQUESTS']);
  });

  it('beginTotpSetup answers CONFLICT before it looks at the password', async () => {
    const user = await signUpWithTotp(t);
    for (let i = 0; i < MAX_ATTEMPTS + 1; i++) {
      expect(codes(await t.gql(BEGIN, { p: 'Wrong-Password-123' }, bearer(user.accessToken)))).toEqual(['CONFLICT']);
    }
    // None of those counted: sign-in still works.
    expect(codes(await login(user, await totpCode(user.secret)))).toEqual([]);
  });
});

describe('Mutation.confirmTotpSetup under the sign-in lockout', () => {
  const UNLOCK = 'mutation($id: ID!) { unlockUser(userId: $id) { id } }';
  /** One request confirming `aliases` wrong codes, each field under its own alias. */
  const wrongCodes = (aliases: number, seed: number) =>
    `mutation { ${Array.from({ length: aliases }, (_, i) => `c${i}: confirmTotpSetup(code: "${String(100000 + seed * 100 + i)}")`).join(' ')} }`;

  it('counts every wrong code: of 40 parallel requests with 15 aliased codes each, 5 are evaluated, the rest are 429 with Retry-After; the pending secret is dropped', async () => {
    const admin = await logIn(t, ADMIN_EMAIL, ADMIN_PASSWORD);
    const user = await signUp(t);
    const secret = await beginSetup(t, user);
    const burst = await Promise.all(
      Array.from({ length: 40 }, (_, i) => t.gql(wrongCodes(15, i), {}, bearer(user.accessToken))),
    );
    const misses = burst.filter((r) => codes(r).includes('BAD_USER_INPUT'));
    const limited = burst.filter((r) => r.status === 429);
    expect(misses).toHaveLength(MAX_ATTEMPTS);
    expect(limited).toHaveLength(40 - MAX_ATTEMPTS);
    for (const r of misses) {
      expect(r.body.data ?? null).toBeNull();
      expect(r.body.errors![0]!.extensions!.field).toBe('code');
    }
    for (const r of limited) {
      expect(codes(r)).toContain('TOO_MANY_REQUESTS');
      expect(Number(r.headers.get('retry-after'))).toBeGreaterThan(0);
    }
    // Each evaluated field was counted (and recorded) on its own: exactly the misses answered.
    const evaluated = burst.reduce((n, r) => n + codes(r).filter((c) => c === 'BAD_USER_INPUT').length, 0);
    expect(evaluated).toBe(MAX_ATTEMPTS);
    expect(await auditCount(user.user.id, AuditEventType.LOGIN_FAILED)).toBe(MAX_ATTEMPTS);
    expect(await auditCount(user.user.id, AuditEventType.ACCOUNT_LOCKED)).toBe(1);

    // The right code now: refused while locked ...
    const locked = await t.gql(CONFIRM, { c: await totpCode(secret) }, bearer(user.accessToken));
    expect(locked.status).toBe(429);
    expect(codes(locked)).toEqual(['TOO_MANY_REQUESTS']);
    expect(Number(locked.headers.get('retry-after'))).toBeGreaterThan(0);
    // ... and once the lock is over, too: the pending secret is gone, as if no setup was started.
    expect(codes(await t.gql(UNLOCK, { id: user.user.id }, bearer(admin.accessToken)))).toEqual([]);
    const dropped = await t.gql(CONFIRM, { c: await totpCode(secret) }, bearer(user.accessToken));
    expect(codes(dropped)).toEqual(['BAD_USER_INPUT']);
    expect(dropped.body.errors![0]!.extensions!.field).toBe('code');
    expect((await t.gql(ME_TOTP, {}, bearer(user.accessToken))).body.data!.me.totpEnabled).toBe(false);

    // Setup starts again with the password; the new secret's code turns TOTP on.
    const fresh = await beginSetup(t, user);
    expect(fresh).not.toBe(secret);
    const confirmed = await t.gql(CONFIRM, { c: await totpCode(fresh) }, bearer(user.accessToken));
    expect(codes(confirmed)).toEqual([]);
    expect(confirmed.body.data!.confirmTotpSetup).toHaveLength(10);
    expectReason(await login(user), 'UNAUTHENTICATED', 'MFA_REQUIRED');
  }, 60_000);

  it('drops the pending secret after LOGIN_MAX_ATTEMPTS misses in all, also when they are paced across lockout windows', async () => {
    const admin = await logIn(t, ADMIN_EMAIL, ADMIN_PASSWORD);
    const user = await signUp(t);
    const secret = await beginSetup(t, user);
    const miss = async (i: number) =>
      expect(codes(await t.gql(CONFIRM, { c: String(300000 + i) }, bearer(user.accessToken)))).toEqual([
        'BAD_USER_INPUT',
      ]);
    for (let i = 0; i < MAX_ATTEMPTS - 1; i++) await miss(i);
    // A new lockout window (as after LOGIN_LOCK_SECONDS): the window's count starts again, the setup's does not.
    await t.gql(UNLOCK, { id: user.user.id }, bearer(admin.accessToken));
    await miss(MAX_ATTEMPTS);
    const dropped = await t.gql(CONFIRM, { c: await totpCode(secret) }, bearer(user.accessToken));
    expect(codes(dropped)).toEqual(['BAD_USER_INPUT']);
    expect((await t.gql(ME_TOTP, {}, bearer(user.accessToken))).body.data!.me.totpEnabled).toBe(false);
  });

  it('keeps the pending secret below the limit: 4 wrong codes, then the right one turns TOTP on and clears the count', async () => {
    const user = await signUp(t);
    const secret = await beginSetup(t, user);
    for (let i = 0; i < MAX_ATTEMPTS - 1; i++) {
      const res = await t.gql(CONFIRM, { c: String(200000 + i) }, bearer(user.accessToken));
      expect(codes(res)).toEqual(['BAD_USER_INPUT']);
    }
    const confirmed = await t.gql(CONFIRM, { c: await totpCode(secret) }, bearer(user.accessToken));
    expect(confirmed.body.data!.confirmTotpSetup).toHaveLength(10);
    // Both factors were proven (the password at beginTotpSetup, the code now): the misses are forgotten.
    for (let i = 0; i < MAX_ATTEMPTS - 1; i++) {
      expect(codes(await t.gql(DISABLE, { p: user.password, c: '000000' }, bearer(user.accessToken)))).toEqual([
        'BAD_USER_INPUT',
      ]);
    }
    expect(codes(await login(user, await totpCode(secret, 1)))).toEqual([]);
  });
});

describe('a login racing confirmTotpSetup', () => {
  it('never leaves a working session that was started without a code', async () => {
    const ROUNDS = 12;
    const LOGINS = 4;
    let minted = 0;
    let raced = 0;
    for (let round = 0; round < ROUNDS; round++) {
      const user = await signUp(t);
      const secret = await beginSetup(t, user);
      const code = await totpCode(secret, -1);
      // Logins start a little before and around the confirm, so some read the user before TOTP is on.
      const logins = Array.from({ length: LOGINS }, (_, i) =>
        new Promise((r) => setTimeout(r, i * 3)).then(() => login(user)),
      );
      const confirm = new Promise((r) => setTimeout(r, 4)).then(() =>
        t.gql(CONFIRM, { c: code }, bearer(user.accessToken)),
      );
      const [confirmed, ...answers] = await Promise.all([confirm, ...logins]);
      expect(codes(confirmed)).toEqual([]);
      for (const res of answers) {
        if (codes(res).length > 0) {
          expectReason(res, 'UNAUTHENTICATED', 'MFA_REQUIRED');
          continue;
        }
        minted++;
        const session = res.body.data!.login as { accessToken: string; refreshToken: string };
        expect((await t.gql(ME, {}, bearer(session.accessToken))).status).toBe(401);
        expect(codes(await t.gql(REFRESH, { t: session.refreshToken }))).toEqual(['UNAUTHENTICATED']);
      }
      // The confirming session itself keeps working; every other one was revoked.
      expect((await t.gql(ME, {}, bearer(user.accessToken))).status).toBe(200);
      const others = await SessionModel.find({ userId: user.user.id }, { revokedAt: 1 }).lean<Session[]>();
      expect(others.filter((s) => !s.revokedAt)).toHaveLength(1);
      raced += others.length - 1;
    }
    // Some logins read the user before TOTP was on and created a session (now revoked), or the
    // race was never run.
    expect(minted + raced).toBeGreaterThan(0);
  }, 60_000);
});

async function auditCount(userId: string, type: AuditEventType): Promise<number> {
  await flushAuditEvents();
  return AuditEventModel.countDocuments({ userId, type });
}

describe('Mutation.resetUserTotp', () => {
  it('audits MFA_DISABLED only when TOTP was on', async () => {
    const admin = await logIn(t, ADMIN_EMAIL, ADMIN_PASSWORD);
    const plain = await signUp(t);
    expect((await t.gql(RESET_TOTP, { id: plain.user.id }, bearer(admin.accessToken))).body.data).toEqual({
      resetUserTotp: { id: plain.user.id, totpEnabled: false },
    });
    expect(await auditCount(plain.user.id, AuditEventType.MFA_DISABLED)).toBe(0);
    const enabled = await signUpWithTotp(t);
    expect(codes(await t.gql(RESET_TOTP, { id: enabled.user.id }, bearer(admin.accessToken)))).toEqual([]);
    expect(await auditCount(enabled.user.id, AuditEventType.MFA_DISABLED)).toBe(1);
  });

  it('racing confirmTotpSetup never leaves TOTP on without credentials', async () => {
    const admin = await logIn(t, ADMIN_EMAIL, ADMIN_PASSWORD);
    for (let round = 0; round < 8; round++) {
      const user = await signUp(t);
      const secret = await beginSetup(t, user);
      const code = await totpCode(secret, -1);
      await Promise.all([
        t.gql(CONFIRM, { c: code }, bearer(user.accessToken)),
        new Promise((r) => setTimeout(r, round)).then(() =>
          t.gql(RESET_TOTP, { id: user.user.id }, bearer(admin.accessToken)),
        ),
      ]);
      const flag = (await UserModel.findById(user.user.id, { totpEnabled: 1 }).lean<User>())!.totpEnabled ?? false;
      const credential = await TotpCredentialModel.findById(user.user.id).lean();
      // On means a secret to check codes against; off means sign-in asks for none.
      if (flag) expect(credential?.secret).toBeTruthy();
      else expect(codes(await login(user))).toEqual([]);
    }
  }, 60_000);
});

describe('Mutation.regenerateRecoveryCodes', () => {
  it('is audited as MFA_RECOVERY_CODES_REGENERATED', async () => {
    const user = await signUpWithTotp(t);
    const res = await t.gql(REGENERATE, { p: user.password, c: await totpCode(user.secret) }, bearer(user.accessToken));
    expect(res.body.data!.regenerateRecoveryCodes).toHaveLength(10);
    expect(await auditCount(user.user.id, AuditEventType.MFA_RECOVERY_CODES_REGENERATED)).toBe(1);
  });
});

describe('a stored secret that no longer decrypts', () => {
  it('refuses the code and logs an error once per user', async () => {
    const user = await signUpWithTotp(t);
    // As after JWT_SECRET changed with no TOTP_ENCRYPTION_KEY: well-formed, but another key's.
    await TotpCredentialModel.updateOne(
      { _id: user.user.id },
      { $set: { secret: 'v1.AAAAAAAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAAA.AAAA' } },
    );
    const logged = () => lines.filter((l) => l.userId === user.user.id && l.level === 50);
    expectReason(await login(user, await totpCode(user.secret)), 'UNAUTHENTICATED', 'MFA_INVALID');
    expect(logged()).toHaveLength(1);
    expectReason(await login(user, await totpCode(user.secret, 1)), 'UNAUTHENTICATED', 'MFA_INVALID');
    expect(logged()).toHaveLength(1);
  });
});
