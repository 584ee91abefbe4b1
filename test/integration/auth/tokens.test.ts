import { createSecretKey } from 'node:crypto';
import jwt from 'jsonwebtoken';
import mongoose from 'mongoose';
import { basic, bearer, ME, REFRESH, signUp, strongPassword, type Payload } from '../../helpers/auth';
import { codes, type GraphQLResponse } from '../../helpers/graphql';
import { startTestServer, type TestServer } from '../../helpers/server';

let t: TestServer;
let alice: Awaited<ReturnType<typeof signUp>>;
let bob: Awaited<ReturnType<typeof signUp>>;
beforeAll(async () => {
  // Reuse is detected at once here: no reuse interval for a second tab.
  t = await startTestServer({ REFRESH_TOKEN_TTL: '3600', REFRESH_REUSE_INTERVAL: '0' });
  alice = await signUp(t);
  bob = await signUp(t);
});
afterAll(() => t.stop());

function expectRefused(res: GraphQLResponse): void {
  expect(res.status).toBe(401);
  expect(res.headers.get('www-authenticate')).toMatch(/^(Bearer|Basic) /);
  expect(codes(res)).toEqual(['UNAUTHENTICATED']);
  expect(res.body.data ?? null).toBeNull();
}

const b64 = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');

describe('access tokens', () => {
  const key = () => createSecretKey(Buffer.from(t.config.jwt.secret, 'utf8'));
  // A real session id: access tokens only work while their session is active.
  const sidOf = (token: string) => JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()).sid as string;
  const claims = () => ({ role: alice.user.role, tv: 0, sid: sidOf(alice.accessToken) });
  const noExpiry = (): jwt.SignOptions => ({
    algorithm: 'HS256',
    subject: alice.user.id,
    issuer: t.config.jwt.issuer,
    audience: t.config.jwt.audience,
  });
  const options = (): jwt.SignOptions => ({ ...noExpiry(), expiresIn: 600 });

  it('accepts a token signed the way the server signs them (control case)', async () => {
    const res = await t.gql(ME, {}, bearer(jwt.sign(claims(), key(), options())));
    expect(res.body.data!.me.id).toBe(alice.user.id);
  });

  it.each<[string, () => string, string]>([
    ['alg none', () => `${b64({ alg: 'none', typ: 'JWT' })}.${alice.accessToken.split('.')[1]}.`, 'TOKEN_INVALID'],
    [
      'HS512 with the right secret',
      () => jwt.sign(claims(), key(), { ...options(), algorithm: 'HS512' }),
      'TOKEN_INVALID',
    ],
    [
      'a tampered payload (role ADMIN, signature kept)',
      () => {
        const [header, payload, signature] = alice.accessToken.split('.');
        const forged = { ...JSON.parse(Buffer.from(payload!, 'base64url').toString()), role: 'ADMIN' };
        return `${header}.${b64(forged)}.${signature}`;
      },
      'TOKEN_INVALID',
    ],
    [
      'an expired token',
      () => jwt.sign({ ...claims(), exp: Math.floor(Date.now() / 1000) - 10 }, key(), noExpiry()),
      'TOKEN_EXPIRED',
    ],
    ['nbf in the future', () => jwt.sign(claims(), key(), { ...options(), notBefore: 3600 }), 'TOKEN_INVALID'],
    ['no exp', () => jwt.sign(claims(), key(), noExpiry()), 'TOKEN_INVALID'],
    ['a wrong iss', () => jwt.sign(claims(), key(), { ...options(), issuer: 'someone-else' }), 'TOKEN_INVALID'],
    ['a wrong aud', () => jwt.sign(claims(), key(), { ...options(), audience: 'another-api' }), 'TOKEN_INVALID'],
    ['another secret', () => jwt.sign(claims(), 'x'.repeat(48), options()), 'TOKEN_INVALID'],
    ['a stale token version', () => jwt.sign({ ...claims(), tv: 7 }, key(), options()), 'SESSION_REVOKED'],
    ['no session id', () => jwt.sign({ role: alice.user.role, tv: 0 }, key(), options()), 'TOKEN_INVALID'],
    [
      'an unknown session id',
      () => jwt.sign({ ...claims(), sid: 'A'.repeat(22) }, key(), options()),
      'SESSION_REVOKED',
    ],
    [
      "another user's session id",
      () => jwt.sign({ ...claims(), sid: sidOf(bob.accessToken) }, key(), options()),
      'SESSION_REVOKED',
    ],
    [
      'an unknown subject',
      () => jwt.sign(claims(), key(), { ...options(), subject: '0123456789abcdef01234567' }),
      'SESSION_REVOKED',
    ],
    ['garbage', () => 'not.a.token', 'TOKEN_INVALID'],
  ])('refuses %s with 401, WWW-Authenticate and UNAUTHENTICATED (reason %s)', async (_label, token, reason) => {
    const res = await t.gql(ME, {}, bearer(token()));
    expectRefused(res);
    expect(res.body.errors![0]!.extensions!.reason).toBe(reason);
  });

  it.each([
    ['Bearer with no token', 'Bearer'],
    ['Bearer with a blank token', 'Bearer    '],
    ['Basic !!!', 'Basic !!!'],
    ['Basic without a colon', `Basic ${Buffer.from('no-colon-here').toString('base64')}`],
    ['Basic with a wrong password', basic('nobody@example.com', 'Wrong-Password-1').authorization],
    ['an unknown scheme', 'Digest username="x"'],
    ['a 10 KB header', `Bearer ${'a'.repeat(10 * 1024)}`],
  ])('refuses a malformed header (%s) with 401, never as anonymous', async (_label, header) => {
    expectRefused(await t.gql(ME, {}, { authorization: header! }));
  });

  it('authenticates with HTTP Basic credentials', async () => {
    const res = await t.gql(ME, {}, basic(alice.email, alice.password));
    expect(res.status).toBe(200);
    expect(res.body.data!.me.id).toBe(alice.user.id);
  });

  it('ignores a token in the URL query string', async () => {
    const url = `${t.url}/graphql?access_token=${alice.accessToken}&token=${alice.accessToken}`;
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: ME }),
    });
    expect(((await res.json()) as { data: { me: unknown } }).data.me).toBeNull();
  });
});

describe('refresh tokens and sessions', () => {
  const refresh = (token: string) => t.gql<{ refreshToken: Payload }>(REFRESH, { t: token });

  it('rotates: the new pair works, the old refresh token does not', async () => {
    const user = await signUp(t);
    const next = (await refresh(user.refreshToken)).body.data!.refreshToken;
    expect(next.refreshToken).not.toBe(user.refreshToken);
    expect((await t.gql(ME, {}, bearer(next.accessToken))).body.data!.me.id).toBe(user.user.id);
    expect((await refresh(next.refreshToken)).body.data?.refreshToken).toBeTruthy();
  });

  it('revokes the whole session when an already-rotated token is presented again', async () => {
    const user = await signUp(t);
    const next = (await refresh(user.refreshToken)).body.data!.refreshToken;
    expect(codes(await refresh(user.refreshToken))).toEqual(['UNAUTHENTICATED']);
    // The legitimate holder's newest token is dead too: the session is gone.
    expect(codes(await refresh(next.refreshToken))).toEqual(['UNAUTHENTICATED']);
  });

  it('refuses malformed and unknown refresh tokens with UNAUTHENTICATED', async () => {
    // The ObjectId-style session ids of earlier versions are refused too.
    for (const token of ['', 'abc', `0123456789abcdef01234567.${'A'.repeat(43)}`, `${alice.refreshToken}x`])
      expect(codes(await refresh(token))).toEqual(['UNAUTHENTICATED']);
  });

  it('lists my sessions with the current one marked, and revokes one of them', async () => {
    const user = await signUp(t);
    const second = await t.gql<{ login: Payload }>(
      'mutation($i: LoginInput!) { login(input: $i) { accessToken refreshToken } }',
      { i: { email: user.email, password: user.password } },
      { 'user-agent': 'second-device/1.0' },
    );
    const list = await t.gql<{ sessions: Array<{ id: string; current: boolean; userAgent: string | null }> }>(
      '{ sessions { id createdAt lastUsedAt expiresAt userAgent current } }',
      {},
      bearer(user.accessToken),
    );
    const sessions = list.body.data!.sessions;
    expect(sessions).toHaveLength(2);
    expect(sessions.filter((s) => s.current)).toHaveLength(1);
    const other = sessions.find((s) => !s.current)!;
    expect(other.userAgent).toBe('second-device/1.0');

    const revoke = (id: string, auth = user.accessToken) =>
      t.gql('mutation($id: ID!) { revokeSession(id: $id) }', { id }, bearer(auth));
    expect(codes(await revoke(other.id, alice.accessToken))).toEqual(['NOT_FOUND']);
    expect((await revoke(other.id)).body.data!.revokeSession).toBe(true);
    expect(codes(await refresh(second.body.data!.login.refreshToken))).toEqual(['UNAUTHENTICATED']);
    expect(codes(await revoke('not-an-id'))).toEqual(['BAD_USER_INPUT']);
    expect(codes(await t.gql('{ sessions { id } }'))).toEqual(['UNAUTHENTICATED']);
  });

  it('logout revokes that session only', async () => {
    const user = await signUp(t);
    const res = await t.gql('mutation($t: String!) { logout(refreshToken: $t) }', { t: user.refreshToken });
    expect(res.body.data!.logout).toBe(true);
    expect(codes(await refresh(user.refreshToken))).toEqual(['UNAUTHENTICATED']);
  });

  it('logoutAll invalidates every access token issued so far and every session', async () => {
    const user = await signUp(t);
    const other = (await refresh(user.refreshToken)).body.data!.refreshToken;
    expect((await t.gql('mutation { logoutAll }', {}, bearer(other.accessToken))).body.data!.logoutAll).toBe(true);
    expectRefused(await t.gql(ME, {}, bearer(user.accessToken)));
    expectRefused(await t.gql(ME, {}, bearer(other.accessToken)));
    expect(codes(await refresh(other.refreshToken))).toEqual(['UNAUTHENTICATED']);
    expect(codes(await t.gql('mutation { logoutAll }'))).toEqual(['UNAUTHENTICATED']);
  });

  it('changePassword: old password and other sessions stop working, the returned pair works', async () => {
    const user = await signUp(t);
    const other = (
      await t.gql<{ login: Payload }>('mutation($i: LoginInput!) { login(input: $i) { accessToken refreshToken } }', {
        i: { email: user.email, password: user.password },
      })
    ).body.data!.login;
    const change = (current: string, next: string) =>
      t.gql<{ changePassword: Payload }>(
        `mutation($c: String!, $n: String!) { changePassword(currentPassword: $c, newPassword: $n) { accessToken refreshToken } }`,
        { c: current, n: next },
        bearer(user.accessToken),
      );
    const wrong = await change('Wrong-Password-99', strongPassword());
    expect(codes(wrong)).toEqual(['BAD_USER_INPUT']);
    expect(wrong.body.errors![0]!.extensions!.field).toBe('currentPassword');
    expect(codes(await change(user.password, 'password123'))).toEqual(['BAD_USER_INPUT']);

    const newPassword = strongPassword();
    const changed = (await change(user.password, newPassword)).body.data!.changePassword;
    expect((await t.gql(ME, {}, bearer(changed.accessToken))).body.data!.me.id).toBe(user.user.id);
    expectRefused(await t.gql(ME, {}, bearer(other.accessToken)));
    expect(codes(await refresh(other.refreshToken))).toEqual(['UNAUTHENTICATED']);
    expect((await refresh(changed.refreshToken)).body.data?.refreshToken).toBeTruthy();
    expectRefused(await t.gql(ME, {}, basic(user.email, user.password)));
    expect((await t.gql(ME, {}, basic(user.email, newPassword))).body.data!.me.id).toBe(user.user.id);
  });

  it('refuses a refresh token whose session has expired (expiry is checked by the code)', async () => {
    const user = await signUp(t);
    await mongoose.connection
      .db!.collection('sessions')
      .updateMany({ userId: user.user.id }, { $set: { expiresAt: new Date(Date.now() - 1000) } });
    expect(codes(await refresh(user.refreshToken))).toEqual(['UNAUTHENTICATED']);
  });
});

describe('machine-readable reasons for sign-in failures', () => {
  const reasonOf = (res: GraphQLResponse) => res.body.errors?.[0]?.extensions?.reason;

  it('says BAD_CREDENTIALS for a wrong password (login and Basic) and REFRESH_TOKEN_INVALID for a bad refresh token', async () => {
    const login = await t.gql('mutation($i: LoginInput!) { login(input: $i) { accessToken } }', {
      i: { email: alice.email, password: 'Wrong-Password-1' },
    });
    expect(codes(login)).toEqual(['UNAUTHENTICATED']);
    expect(reasonOf(login)).toBe('BAD_CREDENTIALS');
    expect(reasonOf(await t.gql(ME, {}, basic(alice.email, 'Wrong-Password-1')))).toBe('BAD_CREDENTIALS');
    expect(reasonOf(await t.gql(REFRESH, { t: 'not-a-refresh-token' }))).toBe('REFRESH_TOKEN_INVALID');
  });

  it('says FORBIDDEN/ACCOUNT_DISABLED to the right password of a disabled account', async () => {
    const user = await signUp(t);
    await mongoose.connection.db!.collection('users').updateOne({ email: user.email }, { $set: { disabled: true } });
    const res = await t.gql('mutation($i: LoginInput!) { login(input: $i) { accessToken } }', {
      i: { email: user.email, password: user.password },
    });
    expect(codes(res)).toEqual(['FORBIDDEN']);
    expect(reasonOf(res)).toBe('ACCOUNT_DISABLED');
  });
});
