import { Secret, TOTP, URI } from 'otpauth';
import { AuditEventModel, AuditEventType } from '../../../src/audit/audit.model';
import { flushAuditEvents } from '../../../src/audit/audit.service';
import { TotpCredentialModel } from '../../../src/mfa/totp.model';
import { basic, bearer, LOGIN, logIn, ME, REFRESH, signUp, strongPassword, uniqueEmail } from '../../helpers/auth';
import { codes, type GraphQLResponse } from '../../helpers/graphql';
import { startTestServer, type TestServer } from '../../helpers/server';

const BEGIN = 'mutation($p: String!) { beginTotpSetup(currentPassword: $p) { secret otpauthUrl qrCodeSvg } }';
const CONFIRM = 'mutation($c: String!) { confirmTotpSetup(code: $c) }';
const DISABLE = 'mutation($p: String!, $c: String!) { disableTotp(currentPassword: $p, code: $c) }';
const REGENERATE = 'mutation($p: String!, $c: String!) { regenerateRecoveryCodes(currentPassword: $p, code: $c) }';
const RESET = 'mutation($id: ID!) { resetUserTotp(userId: $id) { id totpEnabled } }';
const ME_TOTP = '{ me { id totpEnabled } }';
const DELETE_ACCOUNT = 'mutation($p: String!) { deleteAccount(currentPassword: $p) }';

const ADMIN_EMAIL = uniqueEmail('admin');
const ADMIN_PASSWORD = strongPassword();
/** The default lockout: LOGIN_MAX_ATTEMPTS failures per email. */
const MAX_ATTEMPTS = 5;
const STEP_MS = 30_000;

let t: TestServer;

beforeAll(async () => {
  t = await startTestServer({ ADMIN_EMAIL, ADMIN_PASSWORD });
});
afterAll(() => t.stop());

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The code `offset` steps from now, as an authenticator app would show it. Near the end of a
 * step it first waits for the next one, so the server sees the same step as the test did.
 */
async function code(secret: string, offset = 0): Promise<string> {
  const intoStep = Date.now() % STEP_MS;
  if (intoStep > STEP_MS - 3000) await sleep(STEP_MS - intoStep + 200);
  return TOTP.generate({ secret: Secret.fromBase32(secret), timestamp: Date.now() + offset * STEP_MS });
}

type User = Awaited<ReturnType<typeof signUp>>;
interface Enabled extends User {
  secret: string;
  recoveryCodes: string[];
}

/** Signs a user up and turns TOTP on with the previous step's code (the window accepts it). */
async function enabledUser(): Promise<Enabled> {
  const user = await signUp(t);
  const begun = await t.gql(BEGIN, { p: user.password }, bearer(user.accessToken));
  const { secret } = begun.body.data!.beginTotpSetup as { secret: string };
  const confirmed = await t.gql(CONFIRM, { c: await code(secret, -1) }, bearer(user.accessToken));
  if (!confirmed.body.data) throw new Error(`confirm failed: ${JSON.stringify(confirmed.body.errors)}`);
  return { ...user, secret, recoveryCodes: confirmed.body.data.confirmTotpSetup as string[] };
}

function login(user: { email: string; password: string }, totpCode?: string) {
  return t.gql(LOGIN, { input: { email: user.email, password: user.password, totpCode } });
}

function expectReason(res: GraphQLResponse, code: string, reason: string) {
  expect(codes(res)).toEqual([code]);
  expect(res.body.errors![0]!.extensions!.reason).toBe(reason);
}

function oauth(fields: Record<string, string>) {
  return fetch(`${t.url}/oauth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'password', ...fields }).toString(),
  });
}

async function auditTypes(userId: string): Promise<{ type: string; actorId: string | null }[]> {
  await flushAuditEvents();
  return AuditEventModel.find({ userId }, { type: 1, actorId: 1 }).lean<{ type: string; actorId: string | null }[]>();
}

describe('Mutation.beginTotpSetup and Mutation.confirmTotpSetup', () => {
  it('turns TOTP on with the first code and returns 10 distinct recovery codes, once', async () => {
    const user = await signUp(t);
    const begun = await t.gql(BEGIN, { p: user.password }, bearer(user.accessToken));
    const setup = begun.body.data!.beginTotpSetup as { secret: string; otpauthUrl: string; qrCodeSvg: string };
    expect(Secret.fromBase32(setup.secret).bytes).toHaveLength(20);
    const parsed = URI.parse(setup.otpauthUrl) as TOTP;
    expect(parsed).toMatchObject({ algorithm: 'SHA1', digits: 6, period: 30, label: user.email });
    expect(parsed.secret.base32).toBe(setup.secret);
    expect(setup.qrCodeSvg).toMatch(/^<svg[\s\S]*<\/svg>\s*$/);
    // Pending: sign-in does not ask for a code yet.
    expect((await t.gql(ME_TOTP, {}, bearer(user.accessToken))).body.data!.me.totpEnabled).toBe(false);
    expect(codes(await login(user))).toEqual([]);

    const confirmed = await t.gql(CONFIRM, { c: await code(setup.secret) }, bearer(user.accessToken));
    const recovery = confirmed.body.data!.confirmTotpSetup as string[];
    expect(recovery).toHaveLength(10);
    expect(new Set(recovery).size).toBe(10);
    for (const c of recovery) expect(c).toMatch(/^[0-9a-z]{4}(-[0-9a-z]{4}){3}$/);
    expect((await t.gql(ME_TOTP, {}, bearer(user.accessToken))).body.data!.me.totpEnabled).toBe(true);
    // Confirming again is refused: the codes are shown only once.
    expect(codes(await t.gql(CONFIRM, { c: await code(setup.secret, 1) }, bearer(user.accessToken)))).toEqual([
      'CONFLICT',
    ]);
    expect((await auditTypes(user.user.id)).map((e) => e.type)).toContain('MFA_ENABLED');
  });

  it('refuses a wrong code with BAD_USER_INPUT on code, and a new setup replaces the pending one', async () => {
    const user = await signUp(t);
    const first = (await t.gql(BEGIN, { p: user.password }, bearer(user.accessToken))).body.data!.beginTotpSetup;
    const second = (await t.gql(BEGIN, { p: user.password }, bearer(user.accessToken))).body.data!.beginTotpSetup;
    expect(second.secret).not.toBe(first.secret);
    const wrong = await t.gql(CONFIRM, { c: await code(first.secret) }, bearer(user.accessToken));
    expect(codes(wrong)).toEqual(['BAD_USER_INPUT']);
    expect(wrong.body.errors![0]!.extensions!.field).toBe('code');
    expect(codes(await t.gql(CONFIRM, { c: 'not-a-code' }, bearer(user.accessToken)))).toEqual(['BAD_USER_INPUT']);
    const right = await t.gql(CONFIRM, { c: await code(second.secret) }, bearer(user.accessToken));
    expect(right.body.data!.confirmTotpSetup).toHaveLength(10);
  });

  it('checks the password (a wrong one counts towards the lockout) and answers CONFLICT once enabled', async () => {
    const user = await signUp(t);
    for (let i = 0; i < MAX_ATTEMPTS; i++) {
      const res = await t.gql(BEGIN, { p: 'Wrong-Password-123' }, bearer(user.accessToken));
      expect(codes(res)).toEqual(['BAD_USER_INPUT']);
      expect(res.body.errors![0]!.extensions!.field).toBe('currentPassword');
    }
    expect(codes(await login(user))).toEqual(['TOO_MANY_REQUESTS']);

    const enabled = await enabledUser();
    expect(codes(await t.gql(BEGIN, { p: enabled.password }, bearer(enabled.accessToken)))).toEqual(['CONFLICT']);
  });

  it('stores the secret encrypted and the recovery codes hashed, never as given', async () => {
    const user = await enabledUser();
    const stored = await TotpCredentialModel.collection.findOne({ _id: user.user.id as never });
    expect(stored).not.toBeNull();
    const raw = JSON.stringify(stored);
    const bytes = Secret.fromBase32(user.secret);
    expect(raw).not.toContain(user.secret);
    expect(raw.toLowerCase()).not.toContain(bytes.hex.toLowerCase());
    expect(raw).not.toContain(Buffer.from(bytes.bytes).toString('base64').slice(0, 20));
    expect(stored!.secret).toMatch(/^v1\./);
    expect(stored!.recoveryCodes).toHaveLength(10);
    for (const c of user.recoveryCodes) {
      expect(raw).not.toContain(c);
      expect(raw).not.toContain(c.replace(/-/g, ''));
    }
  });
});

describe('Mutation.login with TOTP on', () => {
  it('asks for a code after a right password (MFA_REQUIRED), and a wrong password still answers BAD_CREDENTIALS', async () => {
    const user = await enabledUser();
    expectReason(await login(user), 'UNAUTHENTICATED', 'MFA_REQUIRED');
    const current = await code(user.secret);
    expectReason(await login({ ...user, password: 'Wrong-Password-123' }), 'UNAUTHENTICATED', 'BAD_CREDENTIALS');
    expectReason(
      await login({ ...user, password: 'Wrong-Password-123' }, current),
      'UNAUTHENTICATED',
      'BAD_CREDENTIALS',
    );
    // The code sent with a wrong password was not used up.
    const ok = await login(user, current);
    expect(codes(ok)).toEqual([]);
    expect(ok.body.data!.login.user.id).toBe(user.user.id);
  });

  it('counts wrong codes towards the lockout, but not a right password without a code', async () => {
    const user = await enabledUser();
    for (let i = 0; i < MAX_ATTEMPTS + 3; i++) expectReason(await login(user), 'UNAUTHENTICATED', 'MFA_REQUIRED');
    for (let i = 0; i < MAX_ATTEMPTS; i++) {
      expectReason(await login(user, '000000'), 'UNAUTHENTICATED', 'MFA_INVALID');
      // A right password between guesses does not clear the count (until the lock, which refuses it).
      if (i < MAX_ATTEMPTS - 1) expectReason(await login(user), 'UNAUTHENTICATED', 'MFA_REQUIRED');
    }
    const locked = await login(user, await code(user.secret));
    expect(codes(locked)).toEqual(['TOO_MANY_REQUESTS']);
    await flushAuditEvents();
    const failures = await AuditEventModel.countDocuments({ userId: user.user.id, type: AuditEventType.LOGIN_FAILED });
    expect(failures).toBe(MAX_ATTEMPTS);
    expect(await AuditEventModel.countDocuments({ userId: user.user.id, type: AuditEventType.ACCOUNT_LOCKED })).toBe(1);
  });

  it('accepts the next step, refuses two steps either side, and refuses a code used before (replay)', async () => {
    const user = await enabledUser();
    expectReason(await login(user, await code(user.secret, 2)), 'UNAUTHENTICATED', 'MFA_INVALID');
    expectReason(await login(user, await code(user.secret, -2)), 'UNAUTHENTICATED', 'MFA_INVALID');
    const current = await code(user.secret);
    expect(codes(await login(user, current))).toEqual([]);
    expectReason(await login(user, current), 'UNAUTHENTICATED', 'MFA_INVALID');
    const next = await code(user.secret, 1);
    expect(codes(await login(user, next))).toEqual([]);
    expectReason(await login(user, next), 'UNAUTHENTICATED', 'MFA_INVALID');
    // Once a later step was used, an earlier one is refused too.
    expectReason(await login(user, await code(user.secret)), 'UNAUTHENTICATED', 'MFA_INVALID');
  });

  it('accepts the previous step when no later code was used', async () => {
    const user = await enabledUser();
    // As if TOTP had been turned on long ago: setup used the previous step, which the window
    // would otherwise make the only one refused.
    await TotpCredentialModel.updateOne({ _id: user.user.id }, { $set: { lastStep: 0 } });
    expect(codes(await login(user, await code(user.secret, -1)))).toEqual([]);
  });

  it('lets exactly one of several parallel logins with one code through', async () => {
    const user = await enabledUser();
    const current = await code(user.secret);
    const results = await Promise.all(Array.from({ length: 4 }, () => login(user, current)));
    const ok = results.filter((r) => codes(r).length === 0);
    expect(ok).toHaveLength(1);
    for (const r of results.filter((res) => codes(res).length > 0)) expectReason(r, 'UNAUTHENTICATED', 'MFA_INVALID');
  });

  it('accepts each recovery code once (in any case, without hyphens), and audits its use', async () => {
    const user = await enabledUser();
    const [first, second] = user.recoveryCodes as [string, string];
    expect(codes(await login(user, first))).toEqual([]);
    expectReason(await login(user, first), 'UNAUTHENTICATED', 'MFA_INVALID');
    expect(codes(await login(user, second.replace(/-/g, '').toUpperCase()))).toEqual([]);
    const results = await Promise.all(Array.from({ length: 3 }, () => login(user, user.recoveryCodes[2])));
    expect(results.filter((r) => codes(r).length === 0)).toHaveLength(1);
    const used = (await auditTypes(user.user.id)).filter((e) => e.type === 'MFA_RECOVERY_CODE_USED');
    expect(used).toHaveLength(3);
  });
});

describe('HTTP Basic and the OAuth password grant with TOTP on', () => {
  it('refuses Basic with MFA_REQUIRED after a right password, even when it was cached before', async () => {
    const user = await signUp(t);
    // Cached as a successful Basic check before TOTP is turned on.
    expect((await t.gql(ME, {}, basic(user.email, user.password))).body.data!.me.id).toBe(user.user.id);
    const begun = await t.gql(BEGIN, { p: user.password }, bearer(user.accessToken));
    const { secret } = begun.body.data!.beginTotpSetup as { secret: string };
    await t.gql(CONFIRM, { c: await code(secret) }, bearer(user.accessToken));

    const refused = await t.gql(ME, {}, basic(user.email, user.password));
    expect(refused.status).toBe(401);
    expectReason(refused, 'UNAUTHENTICATED', 'MFA_REQUIRED');
    expect(refused.body.errors![0]!.message).toMatch(/API key/);
    expect(refused.headers.get('www-authenticate')).toMatch(/^Basic /);
    const wrong = await t.gql(ME, {}, basic(user.email, 'Wrong-Password-123'));
    expect(wrong.status).toBe(401);
    expectReason(wrong, 'UNAUTHENTICATED', 'BAD_CREDENTIALS');
  });

  it('asks the OAuth password grant for totp_code, and issues tokens with it', async () => {
    const user = await enabledUser();
    const without = await oauth({ username: user.email, password: user.password });
    expect(without.status).toBe(400);
    const body = (await without.json()) as { error: string; error_description: string };
    expect(body.error).toBe('invalid_grant');
    expect(body.error_description).toMatch(/totp_code/);
    const wrongCode = await oauth({ username: user.email, password: user.password, totp_code: '000000' });
    expect(wrongCode.status).toBe(400);
    expect(((await wrongCode.json()) as { error: string }).error).toBe('invalid_grant');

    const withCode = await oauth({ username: user.email, password: user.password, totp_code: await code(user.secret) });
    expect(withCode.status).toBe(200);
    const tokens = (await withCode.json()) as { access_token: string };
    expect((await t.gql(ME, {}, bearer(tokens.access_token))).body.data!.me.id).toBe(user.user.id);
  });
});

describe('sessions when TOTP changes', () => {
  it('ends my other sessions when I turn TOTP on, and keeps mine', async () => {
    const user = await signUp(t);
    const other = await logIn(t, user.email, user.password);
    const begun = await t.gql(BEGIN, { p: user.password }, bearer(user.accessToken));
    await t.gql(CONFIRM, { c: await code(begun.body.data!.beginTotpSetup.secret) }, bearer(user.accessToken));

    expect((await t.gql(ME, {}, bearer(user.accessToken))).body.data!.me.id).toBe(user.user.id);
    const stale = await t.gql(ME, {}, bearer(other.accessToken));
    expect(stale.status).toBe(401);
    expectReason(stale, 'UNAUTHENTICATED', 'SESSION_REVOKED');
    expect(codes(await t.gql(REFRESH, { t: other.refreshToken }))).toEqual(['UNAUTHENTICATED']);
    expect(codes(await t.gql(REFRESH, { t: user.refreshToken }))).toEqual([]);
  });

  it('turns TOTP off with a code, ends my other sessions, and sign-in needs no code after', async () => {
    const user = await enabledUser();
    const other = (await login(user, await code(user.secret))).body.data!.login as { accessToken: string };
    const res = await t.gql(DISABLE, { p: user.password, c: await code(user.secret, 1) }, bearer(user.accessToken));
    expect(res.body.data).toEqual({ disableTotp: true });
    expectReason(await t.gql(ME, {}, bearer(other.accessToken)), 'UNAUTHENTICATED', 'SESSION_REVOKED');
    expect((await t.gql(ME_TOTP, {}, bearer(user.accessToken))).body.data!.me.totpEnabled).toBe(false);
    expect(codes(await login(user))).toEqual([]);
    expect(await TotpCredentialModel.exists({ _id: user.user.id })).toBeNull();
    expect((await auditTypes(user.user.id)).map((e) => e.type)).toContain('MFA_DISABLED');
  });

  it('turns TOTP off with a recovery code; refuses a wrong password or code with BAD_USER_INPUT', async () => {
    const user = await enabledUser();
    const wrongPassword = await t.gql(
      DISABLE,
      { p: 'Wrong-Password-123', c: user.recoveryCodes[0] },
      bearer(user.accessToken),
    );
    expect(wrongPassword.body.errors![0]!.extensions).toMatchObject({
      code: 'BAD_USER_INPUT',
      field: 'currentPassword',
    });
    const wrongCode = await t.gql(DISABLE, { p: user.password, c: 'aaaa-bbbb-cccc-dddd' }, bearer(user.accessToken));
    expect(wrongCode.body.errors![0]!.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'code' });
    const res = await t.gql(DISABLE, { p: user.password, c: user.recoveryCodes[0] }, bearer(user.accessToken));
    expect(res.body.data).toEqual({ disableTotp: true });
    expect(codes(await t.gql(DISABLE, { p: user.password, c: '123456' }, bearer(user.accessToken)))).toEqual([
      'CONFLICT',
    ]);
  });

  it('regenerates the recovery codes: the old ones stop working, the new ones work', async () => {
    const user = await enabledUser();
    const res = await t.gql(REGENERATE, { p: user.password, c: await code(user.secret) }, bearer(user.accessToken));
    const fresh = res.body.data!.regenerateRecoveryCodes as string[];
    expect(fresh).toHaveLength(10);
    expect(fresh.some((c) => user.recoveryCodes.includes(c))).toBe(false);
    expectReason(await login(user, user.recoveryCodes[1]), 'UNAUTHENTICATED', 'MFA_INVALID');
    expect(codes(await login(user, fresh[0]))).toEqual([]);
  });
});

describe('Mutation.resetUserTotp', () => {
  it('lets an admin turn a user’s TOTP off, ending its sessions, audited with the admin as actor', async () => {
    const admin = await logIn(t, ADMIN_EMAIL, ADMIN_PASSWORD);
    const user = await enabledUser();
    const res = await t.gql(RESET, { id: user.user.id }, bearer(admin.accessToken));
    expect(res.body.data!.resetUserTotp).toEqual({ id: user.user.id, totpEnabled: false });
    expectReason(await t.gql(ME, {}, bearer(user.accessToken)), 'UNAUTHENTICATED', 'SESSION_REVOKED');
    expect(codes(await login(user))).toEqual([]);
    const events = await auditTypes(user.user.id);
    expect(events).toContainEqual(expect.objectContaining({ type: 'MFA_DISABLED', actorId: admin.user.id }));
  });

  it('is refused to a non-admin with FORBIDDEN and to anonymous callers', async () => {
    const user = await enabledUser();
    const other = await signUp(t);
    expect(codes(await t.gql(RESET, { id: user.user.id }, bearer(other.accessToken)))).toEqual(['FORBIDDEN']);
    expect(codes(await t.gql(RESET, { id: user.user.id }))).toEqual(['UNAUTHENTICATED']);
    expectReason(await login(user), 'UNAUTHENTICATED', 'MFA_REQUIRED');
  });
});

describe('account deletion', () => {
  it('deletes the TOTP credentials with the account', async () => {
    const user = await enabledUser();
    expect(await TotpCredentialModel.exists({ _id: user.user.id })).not.toBeNull();
    const res = await t.gql(DELETE_ACCOUNT, { p: user.password }, bearer(user.accessToken));
    expect(res.body.data).toEqual({ deleteAccount: true });
    expect(await TotpCredentialModel.exists({ _id: user.user.id })).toBeNull();
  });
});
