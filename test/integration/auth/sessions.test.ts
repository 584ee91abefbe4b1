import mongoose from 'mongoose';
import { bearer, LOGIN, ME, REFRESH, signUp, strongPassword, uniqueEmail, type Payload } from '../../helpers/auth';
import { codes } from '../../helpers/graphql';
import { startTestServer, type TestServer } from '../../helpers/server';

const sessions = () => mongoose.connection.db!.collection<{ _id: string } & Record<string, unknown>>('sessions');
const users = () => mongoose.connection.db!.collection('users');
const sessionIdOf = (refreshToken: string) => refreshToken.split('.')[0]!;

describe('sessions and revocation', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer({ SESSION_IDLE_TIMEOUT: '3600', REFRESH_REUSE_INTERVAL: '0' });
  });
  afterAll(() => t.stop());
  const refresh = (token: string) => t.gql<{ refreshToken: Payload }>(REFRESH, { t: token });
  const me = (accessToken: string) => t.gql(ME, {}, bearer(accessToken));

  it('refuses a session that started under an older token version (a login that raced a revocation)', async () => {
    const user = await signUp(t);
    // What a login in flight leaves behind when logoutAll lands between its read of the user and
    // its insert of the session: a live session carrying the version from before the revocation.
    await users().updateOne({ email: user.email }, { $inc: { tokenVersion: 1 } });
    expect(codes(await refresh(user.refreshToken))).toEqual(['UNAUTHENTICATED']);
    expect((await me(user.accessToken)).status).toBe(401);
    // And it stays dead: the session is revoked, not just refused once.
    const stored = await sessions().findOne({ _id: sessionIdOf(user.refreshToken) });
    expect(stored!.revokedAt).toBeInstanceOf(Date);
  });

  it('treats an unknown secret with a live session id as a plain failure: the session keeps working', async () => {
    const user = await signUp(t);
    const forged = `${sessionIdOf(user.refreshToken)}.${'A'.repeat(43)}`;
    expect(codes(await refresh(forged))).toEqual(['UNAUTHENTICATED']);
    expect(codes(await t.gql('mutation($t: String!) { logout(refreshToken: $t) }', { t: forged }))).toEqual([]);
    const next = await refresh(user.refreshToken);
    expect(next.body.data?.refreshToken.refreshToken).toBeTruthy();
    expect((await me(next.body.data!.refreshToken.accessToken)).body.data!.me.id).toBe(user.user.id);
  });

  it('still revokes the session when a secret it issued before is presented again (reuse)', async () => {
    const user = await signUp(t);
    const second = (await refresh(user.refreshToken)).body.data!.refreshToken;
    const third = (await refresh(second.refreshToken)).body.data!.refreshToken;
    // The first secret, two rotations old, is still recognised as this session's.
    expect(codes(await refresh(user.refreshToken))).toEqual(['UNAUTHENTICATED']);
    expect(codes(await refresh(third.refreshToken))).toEqual(['UNAUTHENTICATED']);
    expect((await me(third.accessToken)).status).toBe(401);
  });

  it("treats the caller's refresh token from before a password change as reuse", async () => {
    const user = await signUp(t);
    const changed = await t.gql<{ changePassword: Payload }>(
      'mutation($c: String!, $n: String!) { changePassword(currentPassword: $c, newPassword: $n) { accessToken refreshToken } }',
      { c: user.password, n: strongPassword() },
      bearer(user.accessToken),
    );
    const kept = changed.body.data!.changePassword;
    expect(sessionIdOf(kept.refreshToken)).toBe(sessionIdOf(user.refreshToken));
    // The secret it replaced is a rotated one: presenting it again revokes the session.
    expect(codes(await refresh(user.refreshToken))).toEqual(['UNAUTHENTICATED']);
    expect(codes(await refresh(kept.refreshToken))).toEqual(['UNAUTHENTICATED']);
  });

  it('does not list sessions from before random session ids, which can never refresh', async () => {
    const user = await signUp(t);
    await sessions().insertOne({
      _id: new mongoose.Types.ObjectId() as unknown as string,
      userId: user.user.id,
      tokenHash: 'a'.repeat(64),
      createdAt: new Date(),
      lastUsedAt: new Date(),
      expiresAt: new Date(Date.now() + 86400_000),
      revokedAt: null,
    });
    const listed = await t.gql<{ sessions: Array<{ id: string }> }>(
      '{ sessions { id } }',
      {},
      bearer(user.accessToken),
    );
    expect(listed.body.data!.sessions.map((s) => s.id)).toEqual([sessionIdOf(user.refreshToken)]);
  });

  it('uses unguessable session ids: 128 random bits, unrelated from one session to the next', async () => {
    const user = await signUp(t);
    const logins = await Promise.all(
      Array.from({ length: 5 }, () =>
        t.gql<{ login: Payload }>(LOGIN, { input: { email: user.email, password: user.password } }),
      ),
    );
    const ids = [user.refreshToken, ...logins.map((l) => l.body.data!.login.refreshToken)].map(sessionIdOf);
    for (const id of ids) expect(id).toMatch(/^[A-Za-z0-9_-]{22}$/);
    // ObjectIds made one after another share their leading (timestamp) characters; these do not.
    expect(new Set(ids.map((id) => id.slice(0, 6))).size).toBe(ids.length);
    const listed = await t.gql<{ sessions: Array<{ id: string }> }>(
      '{ sessions { id } }',
      {},
      bearer(user.accessToken),
    );
    expect(listed.body.data!.sessions.map((s) => s.id).sort()).toEqual([...ids].sort());
  });

  it('stops the access token of a session at once on logout, revokeSession and reuse', async () => {
    const user = await signUp(t);
    const other = (await t.gql<{ login: Payload }>(LOGIN, { input: { email: user.email, password: user.password } }))
      .body.data!.login;
    expect(
      (await t.gql('mutation($t: String!) { logout(refreshToken: $t) }', { t: user.refreshToken })).body.data,
    ).toEqual({ logout: true });
    const refused = await me(user.accessToken);
    expect(refused.status).toBe(401);
    expect(codes(refused)).toEqual(['UNAUTHENTICATED']);
    expect(refused.headers.get('www-authenticate')).toMatch(/^Bearer /);
    // The other session is untouched.
    expect((await me(other.accessToken)).body.data!.me.id).toBe(user.user.id);

    const third = (await t.gql<{ login: Payload }>(LOGIN, { input: { email: user.email, password: user.password } }))
      .body.data!.login;
    await t.gql(
      'mutation($id: ID!) { revokeSession(id: $id) }',
      { id: sessionIdOf(third.refreshToken) },
      bearer(other.accessToken),
    );
    expect((await me(third.accessToken)).status).toBe(401);

    const rotated = (await refresh(other.refreshToken)).body.data!.refreshToken;
    await refresh(other.refreshToken); // reuse of the rotated secret
    expect((await me(rotated.accessToken)).status).toBe(401);
  });

  it('ends a session whose refresh token went unused for SESSION_IDLE_TIMEOUT', async () => {
    const idle = await signUp(t);
    const active = await signUp(t);
    const hoursAgo = (h: number) => new Date(Date.now() - h * 3600_000);
    await sessions().updateOne({ _id: sessionIdOf(idle.refreshToken) }, { $set: { lastUsedAt: hoursAgo(2) } });
    await sessions().updateOne({ _id: sessionIdOf(active.refreshToken) }, { $set: { lastUsedAt: hoursAgo(0.5) } });
    expect(codes(await refresh(idle.refreshToken))).toEqual(['UNAUTHENTICATED']);
    expect((await sessions().findOne({ _id: sessionIdOf(idle.refreshToken) }))!.revokedAt).toBeInstanceOf(Date);
    // A session used within the timeout refreshes, and the refresh restarts its idle clock.
    const next = (await refresh(active.refreshToken)).body.data!.refreshToken;
    const stored = await sessions().findOne({ _id: sessionIdOf(next.refreshToken) });
    expect(Date.now() - (stored!.lastUsedAt as Date).getTime()).toBeLessThan(60_000);
  });
});

describe('two tabs refreshing at once (REFRESH_REUSE_INTERVAL=2)', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer({ REFRESH_REUSE_INTERVAL: '2' });
  });
  afterAll(() => t.stop());
  const refresh = (token: string) => t.gql<{ refreshToken: Payload }>(REFRESH, { t: token });

  it('gives 5 parallel refreshes of one token the same child, each with a working access token, in the same session', async () => {
    const user = await signUp(t);
    const results = await Promise.all(Array.from({ length: 5 }, () => refresh(user.refreshToken)));
    const pairs = results.map((r) => r.body.data?.refreshToken);
    expect(pairs.every(Boolean)).toBe(true);
    const children = new Set(pairs.map((p) => p!.refreshToken));
    expect(children.size).toBe(1);
    const [child] = [...children];
    expect(sessionIdOf(child!)).toBe(sessionIdOf(user.refreshToken));
    for (const pair of pairs) expect((await me(pair!.accessToken)).body.data!.me.id).toBe(user.user.id);
    // The child is stored hashed; the sealed copy is not the secret in clear.
    const stored = JSON.stringify(await sessions().findOne({ _id: sessionIdOf(user.refreshToken) }));
    expect(stored).not.toContain(child!.split('.')[1]);
    // The child rotates on as usual.
    expect((await refresh(child!)).body.data?.refreshToken).toBeTruthy();
  });

  it('still revokes the session when the parent comes back after the interval', async () => {
    const user = await signUp(t);
    const child = (await refresh(user.refreshToken)).body.data!.refreshToken;
    await new Promise((r) => setTimeout(r, 2300));
    expect(codes(await refresh(user.refreshToken))).toEqual(['UNAUTHENTICATED']);
    expect(codes(await refresh(child.refreshToken))).toEqual(['UNAUTHENTICATED']);
    expect((await me(child.accessToken)).status).toBe(401);
  });

  const me = (accessToken: string) => t.gql(ME, {}, bearer(accessToken));
});

describe('a sign-in racing a revocation (bcrypt cost 13 keeps the login in flight)', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer({ BCRYPT_COST: '13' });
  });
  afterAll(() => t.stop());
  const ADMIN_ONLY = 'mutation($id: ID!, $d: Boolean!) { setUserDisabled(userId: $id, disabled: $d) { id } }';

  /** Starts a login, lets it read the user and start hashing, then runs `revoke` before it ends. */
  async function loginDuring(user: { email: string; password: string }, revoke: () => Promise<unknown>) {
    const login = t.gql<{ login: Payload }>(LOGIN, { input: { email: user.email, password: user.password } });
    // The login takes its lockout slot right after reading the user, then hashes for ~0.5 s:
    // once the slot exists, the revocation lands between the read and the new session.
    const counters = mongoose.connection.db!.collection<{ _id: string }>('rate_limits');
    for (let i = 0; i < 500 && !(await counters.findOne({ _id: `lockout:${user.email}` })); i++)
      await new Promise((r) => setTimeout(r, 5));
    await revoke();
    return login;
  }

  it('a login in flight during logoutAll gets no working session', async () => {
    const user = await signUp(t, uniqueEmail(), strongPassword());
    const late = (await loginDuring(user, () => t.gql('mutation { logoutAll }', {}, bearer(user.accessToken)))).body
      .data?.login;
    expect(late).toBeTruthy();
    expect(codes(await t.gql(REFRESH, { t: late!.refreshToken }))).toEqual(['UNAUTHENTICATED']);
    expect((await t.gql(ME, {}, bearer(late!.accessToken))).status).toBe(401);
  });

  it('a login in flight while the user is disabled is refused, and nothing of it comes back on re-enabling', async () => {
    const admin = await signUp(t);
    await users().updateOne({ email: admin.email }, { $set: { role: 'ADMIN' } });
    const user = await signUp(t);
    const late = await loginDuring(user, () =>
      t.gql(ADMIN_ONLY, { id: user.user.id, d: true }, bearer(admin.accessToken)),
    );
    // The session it wrote is checked after the write, finds the user disabled, and is revoked.
    expect(codes(late)).toEqual(['UNAUTHENTICATED']);
    expect(late.body.errors![0]!.extensions!.reason).toBe('SESSION_REVOKED');
    await t.gql(ADMIN_ONLY, { id: user.user.id, d: false }, bearer(admin.accessToken));
    const sessions = await mongoose.connection.db!.collection('sessions').find({ userId: user.user.id }).toArray();
    expect(sessions.every((session) => session.revokedAt)).toBe(true);
  });
});
