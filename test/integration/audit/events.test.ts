import { randomBytes } from 'node:crypto';
import mongoose from 'mongoose';
import pino from 'pino';
import { flushAuditEvents } from '../../../src/audit/audit.service';
import {
  basic,
  bearer,
  LOGIN,
  logIn,
  ME,
  REFRESH,
  REGISTER,
  signUp,
  strongPassword,
  uniqueEmail,
  type Payload,
} from '../../helpers/auth';
import { codes } from '../../helpers/graphql';
import { startTestServer, type TestServer } from '../../helpers/server';

interface Event {
  type: string;
  userId: string | null;
  actorId: string | null;
  ip: string | null;
  userAgent: string | null;
  email: string | null;
  details: Array<{ key: string; value: string }>;
}

const EVENTS = `query($filter: AuditEventFilter) { auditEvents(filter: $filter, first: 100) {
  edges { node { type userId actorId ip userAgent email details { key value } } } } }`;

describe('security events recorded by the auth and admin operations', () => {
  const ADMIN_EMAIL = uniqueEmail('admin');
  const ADMIN_PASSWORD = strongPassword();
  const lines: Array<Record<string, unknown>> = [];
  let t: TestServer;
  let admin: Payload;
  beforeAll(async () => {
    const logger = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line)) });
    t = await startTestServer(
      { ADMIN_EMAIL, ADMIN_PASSWORD, LOGIN_MAX_ATTEMPTS: '2', REFRESH_REUSE_INTERVAL: '0' },
      logger,
    );
    admin = await logIn(t, ADMIN_EMAIL, ADMIN_PASSWORD);
  });
  afterAll(() => t.stop());

  /** The events about one user (or, for unknown emails, all of them), oldest first. */
  async function eventsOf(userId?: string): Promise<Event[]> {
    await flushAuditEvents();
    const res = await t.gql<{ auditEvents: { edges: Array<{ node: Event }> } }>(
      EVENTS,
      { filter: userId ? { userId } : null },
      bearer(admin.accessToken),
    );
    return res.body.data!.auditEvents.edges.map((e) => e.node).reverse();
  }
  const detail = (e: Event, key: string) => e.details.find((d) => d.key === key)?.value;

  it('records sign-in successes and failures (login and HTTP Basic) and the lockout, with ip and user agent', async () => {
    const user = await signUp(t);
    await t.gql(LOGIN, { input: { email: user.email, password: user.password } }, { 'user-agent': 'audit-test/1' });
    await t.gql(ME, {}, basic(user.email, user.password));
    await t.gql(LOGIN, { input: { email: user.email, password: 'Wrong-Password-1' } });
    await t.gql(LOGIN, { input: { email: user.email, password: 'Wrong-Password-1' } });
    const events = await eventsOf(user.user.id);
    expect(events.map((e) => e.type)).toEqual([
      'LOGIN_SUCCEEDED',
      'LOGIN_SUCCEEDED',
      'LOGIN_FAILED',
      'LOGIN_FAILED',
      'ACCOUNT_LOCKED',
    ]);
    expect(events.map((e) => detail(e, 'via'))).toEqual(['login', 'basic', 'login', 'login', 'login']);
    expect(events[0]).toMatchObject({ ip: expect.stringMatching(/127\.0\.0\.1/), userAgent: 'audit-test/1' });
    // The same events reach the log, with the user id, for log-based alerting.
    expect(lines.some((l) => l.audit === 'ACCOUNT_LOCKED' && l.userId === user.user.id && l.level === 40)).toBe(true);
  });

  it('records a failure for an unknown email with the email and no user', async () => {
    const email = uniqueEmail('ghost');
    await t.gql(LOGIN, { input: { email, password: 'Wrong-Password-1' } });
    const ghost = (await eventsOf()).filter((e) => e.email === email);
    expect(ghost).toEqual([expect.objectContaining({ type: 'LOGIN_FAILED', userId: null })]);
  });

  it('keeps a submitted identifier only when it is an email address: a password typed into the email field is not stored', async () => {
    const typed = `My-Real-Pass-Phrase-${randomBytes(4).toString('hex')}`;
    const wrong = 'Wrong-Password-1';
    expect(codes(await t.gql(LOGIN, { input: { email: typed, password: wrong } }))).toEqual(['UNAUTHENTICATED']);
    // The same slip over HTTP Basic and the OAuth password grant.
    expect((await t.gql(ME, {}, basic(`${typed}-basic`, wrong))).status).toBe(401);
    const oauth = await fetch(`${t.url}/oauth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'password', username: `${typed}-oauth`, password: wrong }).toString(),
    });
    expect(oauth.status).toBe(400);
    expect(((await oauth.json()) as { error: string }).error).toBe('invalid_grant');
    // Sign-up and reset requests refuse it before anything is recorded.
    const register = await t.gql(REGISTER, { input: { email: `${typed}-register`, password: strongPassword() } });
    expect(codes(register)).toEqual(['BAD_USER_INPUT']);
    const reset = await t.gql('mutation($e: String!) { requestPasswordReset(email: $e) }', { e: `${typed}-reset` });
    expect(codes(reset)).toEqual(['BAD_USER_INPUT']);
    // A failure with an email address is still recorded with it.
    const ghost = uniqueEmail('ghost');
    await t.gql(LOGIN, { input: { email: ghost, password: wrong } });

    const events = await eventsOf();
    // Stored lower-cased when it was stored at all: compare without case.
    expect(JSON.stringify(events).toLowerCase()).not.toContain('my-real-pass-phrase');
    const stored = JSON.stringify(await mongoose.connection.db!.collection('audit_events').find().toArray());
    expect(stored.toLowerCase()).not.toContain(typed.toLowerCase());
    // The failures themselves are recorded, without the identifier.
    const anonymous = events.filter((e) => e.type === 'LOGIN_FAILED' && e.userId === null && e.email === null);
    expect(anonymous.map((e) => detail(e, 'via')).sort()).toEqual(['basic', 'login', 'oauth']);
    expect(events.filter((e) => e.email === ghost)).toEqual([
      expect.objectContaining({ type: 'LOGIN_FAILED', userId: null }),
    ]);
  });

  it('records refresh token reuse, session revocation, logoutAll and password changes', async () => {
    const user = await signUp(t);
    const second = (await t.gql<{ refreshToken: Payload }>(REFRESH, { t: user.refreshToken })).body.data!.refreshToken;
    await t.gql(REFRESH, { t: user.refreshToken }); // reuse: revokes the session
    const other = await logIn(t, user.email, user.password);
    await t.gql('mutation($t: String!) { logout(refreshToken: $t) }', { t: other.refreshToken });
    const third = await logIn(t, user.email, user.password);
    const newPassword = strongPassword();
    await t.gql(
      'mutation($c: String!, $n: String!) { changePassword(currentPassword: $c, newPassword: $n) { accessToken } }',
      { c: user.password, n: newPassword },
      bearer(third.accessToken),
    );
    const fourth = await logIn(t, user.email, newPassword);
    await t.gql('mutation { logoutAll }', {}, bearer(fourth.accessToken));
    const types = (await eventsOf(user.user.id)).map((e) => e.type).filter((type) => type !== 'LOGIN_SUCCEEDED');
    expect(types).toEqual(['REFRESH_TOKEN_REUSED', 'SESSION_REVOKED', 'PASSWORD_CHANGED', 'LOGGED_OUT_ALL']);
    expect(second.refreshToken).toBeTruthy();
  });

  it('records admin changes with the admin as actor: role, disable, enable, unlock', async () => {
    const user = await signUp(t);
    const asAdmin = bearer(admin.accessToken);
    await t.gql('mutation($id: ID!) { setUserRole(userId: $id, role: ADMIN) { id } }', { id: user.user.id }, asAdmin);
    await t.gql(
      'mutation($id: ID!) { setUserDisabled(userId: $id, disabled: true) { id } }',
      { id: user.user.id },
      asAdmin,
    );
    await t.gql(
      'mutation($id: ID!) { setUserDisabled(userId: $id, disabled: false) { id } }',
      { id: user.user.id },
      asAdmin,
    );
    await t.gql('mutation($id: ID!) { unlockUser(userId: $id) { id } }', { id: user.user.id }, asAdmin);
    const events = (await eventsOf(user.user.id)).filter((e) => e.actorId === admin.user.id);
    expect(events.map((e) => e.type)).toEqual(['ROLE_CHANGED', 'USER_DISABLED', 'USER_ENABLED', 'ACCOUNT_UNLOCKED']);
    expect(detail(events[0]!, 'to')).toBe('ADMIN');
  });

  it('never stores a password, token or Authorization header', async () => {
    const user = await signUp(t);
    await t.gql(LOGIN, { input: { email: user.email, password: 'Wrong-Password-1' } });
    await t.gql(ME, {}, basic(user.email, user.password));
    await t.gql(REFRESH, { t: user.refreshToken });
    await flushAuditEvents();
    const stored = JSON.stringify(await mongoose.connection.db!.collection('audit_events').find().toArray());
    for (const secret of [user.password, 'Wrong-Password-1', user.refreshToken.split('.')[1]!, user.accessToken])
      expect(stored).not.toContain(secret);
    expect(stored).not.toMatch(/Basic [A-Za-z0-9+/=]{8,}|Bearer ey/);
  });
});
