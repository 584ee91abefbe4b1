import { basic, bearer, LOGIN, logIn, ME, REFRESH, signUp, strongPassword, uniqueEmail } from '../../helpers/auth';
import { codes } from '../../helpers/graphql';
import { startTestServer, type TestServer } from '../../helpers/server';

const ADMIN_EMAIL = uniqueEmail('admin');
const ADMIN_PASSWORD = strongPassword();
const USERS =
  '{ users(first: 2) { totalCount edges { cursor node { id email role } } pageInfo { hasNextPage endCursor } } }';
const SET_ROLE = 'mutation($id: ID!, $role: Role!) { setUserRole(userId: $id, role: $role) { id role } }';
const SET_DISABLED = 'mutation($id: ID!, $d: Boolean!) { setUserDisabled(userId: $id, disabled: $d) { id disabled } }';
const UNLOCK = 'mutation($id: ID!) { unlockUser(userId: $id) { id } }';

let t: TestServer;
let admin: { accessToken: string; user: { id: string } };
beforeAll(async () => {
  // Reuse is detected at once here: no reuse interval for a second tab.
  t = await startTestServer({ ADMIN_EMAIL, ADMIN_PASSWORD, LOGIN_MAX_ATTEMPTS: '2', REFRESH_REUSE_INTERVAL: '0' });
  admin = await logIn(t, ADMIN_EMAIL, ADMIN_PASSWORD);
});
afterAll(() => t.stop());

describe('admin bootstrap and admin operations', () => {
  it('creates ADMIN_EMAIL as an ADMIN at start-up', async () => {
    const me = await t.gql(ME, {}, bearer(admin.accessToken));
    expect(me.body.data!.me).toMatchObject({ email: ADMIN_EMAIL, role: 'ADMIN' });
  });

  it('lets only admins list users, paged', async () => {
    const user = await signUp(t);
    await signUp(t);
    expect(codes(await t.gql(USERS))).toEqual(['UNAUTHENTICATED']);
    expect(codes(await t.gql(USERS, {}, bearer(user.accessToken)))).toEqual(['FORBIDDEN']);
    const first = await t.gql(USERS, {}, bearer(admin.accessToken));
    const page = first.body.data!.users;
    expect(page.totalCount).toBeGreaterThanOrEqual(3);
    expect(page.edges).toHaveLength(2);
    expect(page.pageInfo.hasNextPage).toBe(true);
    const next = await t.gql(
      'query($after: String) { users(first: 100, after: $after) { edges { node { id } } } }',
      { after: page.pageInfo.endCursor },
      bearer(admin.accessToken),
    );
    const ids = [...page.edges, ...next.body.data!.users.edges].map((e: { node: { id: string } }) => e.node.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids).toHaveLength(page.totalCount);
    const bad = await t.gql('{ users(first: 101) { totalCount } }', {}, bearer(admin.accessToken));
    expect(codes(bad)).toEqual(['BAD_USER_INPUT']);
  });

  it('applies a role change on the next request, with the token issued before it', async () => {
    const user = await signUp(t);
    expect(codes(await t.gql(USERS, {}, bearer(user.accessToken)))).toEqual(['FORBIDDEN']);
    const promoted = await t.gql(SET_ROLE, { id: user.user.id, role: 'ADMIN' }, bearer(admin.accessToken));
    expect(promoted.body.data!.setUserRole.role).toBe('ADMIN');
    expect((await t.gql(USERS, {}, bearer(user.accessToken))).body.data!.users.totalCount).toBeGreaterThan(0);
    await t.gql(SET_ROLE, { id: user.user.id, role: 'USER' }, bearer(admin.accessToken));
    expect(codes(await t.gql(USERS, {}, bearer(user.accessToken)))).toEqual(['FORBIDDEN']);
  });

  it('refuses admin mutations to users, and answers NOT_FOUND and BAD_USER_INPUT for bad ids', async () => {
    const user = await signUp(t);
    const asUser = bearer(user.accessToken);
    expect(codes(await t.gql(SET_ROLE, { id: user.user.id, role: 'ADMIN' }, asUser))).toEqual(['FORBIDDEN']);
    expect(codes(await t.gql(SET_DISABLED, { id: user.user.id, d: true }, asUser))).toEqual(['FORBIDDEN']);
    expect(codes(await t.gql(UNLOCK, { id: user.user.id }))).toEqual(['UNAUTHENTICATED']);
    const asAdmin = bearer(admin.accessToken);
    expect(codes(await t.gql(SET_ROLE, { id: '0123456789abcdef01234567', role: 'ADMIN' }, asAdmin))).toEqual([
      'NOT_FOUND',
    ]);
    expect(codes(await t.gql(SET_ROLE, { id: 'nope', role: 'ADMIN' }, asAdmin))).toEqual(['BAD_USER_INPUT']);
  });

  it('disabling a user refuses its tokens and Basic credentials at once; login says FORBIDDEN after the password', async () => {
    const user = await signUp(t);
    await t.gql(SET_DISABLED, { id: user.user.id, d: true }, bearer(admin.accessToken));
    const viaToken = await t.gql(ME, {}, bearer(user.accessToken));
    expect(viaToken.status).toBe(401);
    expect(codes(viaToken)).toEqual(['UNAUTHENTICATED']);
    expect((await t.gql(ME, {}, basic(user.email, user.password))).status).toBe(401);
    const login = (password: string) => t.gql(LOGIN, { input: { email: user.email, password } });
    expect(codes(await login(user.password))).toEqual(['FORBIDDEN']);
    expect(codes(await login('Wrong-Password-99'))).toEqual(['UNAUTHENTICATED']);
    await t.gql(SET_DISABLED, { id: user.user.id, d: false }, bearer(admin.accessToken));
    expect((await login(user.password)).body.data?.login).toBeTruthy();
  });

  it('unlockUser clears a login lockout', async () => {
    const user = await signUp(t);
    const login = (password: string) => t.gql(LOGIN, { input: { email: user.email, password } });
    await login('Wrong-Password-99');
    await login('Wrong-Password-99');
    expect(codes(await login(user.password))).toEqual(['TOO_MANY_REQUESTS']);
    expect((await t.gql(UNLOCK, { id: user.user.id }, bearer(admin.accessToken))).body.data!.unlockUser.id).toBe(
      user.user.id,
    );
    expect((await login(user.password)).body.data?.login).toBeTruthy();
  });

  it('never demotes or disables the last remaining admin (CONFLICT)', async () => {
    const asAdmin = bearer(admin.accessToken);
    const others = await t.gql('{ users(first: 100) { edges { node { id role } } } }', {}, asAdmin);
    for (const { node } of others.body.data!.users.edges as Array<{ node: { id: string; role: string } }>)
      if (node.role === 'ADMIN' && node.id !== admin.user.id)
        await t.gql(SET_ROLE, { id: node.id, role: 'USER' }, asAdmin);
    expect(codes(await t.gql(SET_ROLE, { id: admin.user.id, role: 'USER' }, asAdmin))).toEqual(['CONFLICT']);
    expect(codes(await t.gql(SET_DISABLED, { id: admin.user.id, d: true }, asAdmin))).toEqual(['CONFLICT']);
    // A refused change leaves the admin, and the admin's tokens, as they were.
    expect((await t.gql(ME, {}, asAdmin)).body.data!.me).toMatchObject({ role: 'ADMIN', disabled: false });

    // With a second admin, the first may step down.
    const second = await signUp(t);
    await t.gql(SET_ROLE, { id: second.user.id, role: 'ADMIN' }, asAdmin);
    const stepDown = await t.gql(SET_ROLE, { id: admin.user.id, role: 'USER' }, bearer(second.accessToken));
    expect(stepDown.body.data!.setUserRole.role).toBe('USER');
    await t.gql(SET_ROLE, { id: admin.user.id, role: 'ADMIN' }, bearer(second.accessToken));
  });
});

// A non-admin account at ADMIN_EMAIL: test/integration/auth/admin-bootstrap.test.ts.
describe('admin bootstrap for an existing admin', () => {
  it('leaves an existing admin and its password as they are at the next start', async () => {
    const adminNow = await logIn(t, ADMIN_EMAIL, ADMIN_PASSWORD);
    await t.server.stop();
    t = await startTestServer({
      MONGODB_URI: t.config.mongodbUri!,
      JWT_SECRET: t.config.jwt.secret,
      ADMIN_EMAIL,
      ADMIN_PASSWORD: strongPassword(),
      LOGIN_MAX_ATTEMPTS: '2',
      REFRESH_REUSE_INTERVAL: '0',
    });
    expect((await logIn(t, ADMIN_EMAIL, ADMIN_PASSWORD)).user.role).toBe('ADMIN');
    // Its sessions were not touched.
    expect((await t.gql(REFRESH, { t: adminNow.refreshToken })).body.data?.refreshToken).toBeTruthy();
  });
});

describe('POST /oauth/token', () => {
  const token = (form: Record<string, string>, contentType = 'application/x-www-form-urlencoded') =>
    fetch(`${t.url}/oauth/token`, {
      method: 'POST',
      headers: { 'content-type': contentType },
      body: contentType.includes('json') ? JSON.stringify(form) : new URLSearchParams(form).toString(),
    });

  it('issues tokens for the password grant and rotates them with the refresh_token grant', async () => {
    const user = await signUp(t);
    const res = await token({ grant_type: 'password', username: user.email, password: user.password });
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    const body = (await res.json()) as Record<string, string>;
    expect(body).toEqual({
      access_token: expect.any(String),
      token_type: 'Bearer',
      expires_in: t.config.jwt.accessTokenTtl,
      refresh_token: expect.any(String),
    });
    expect((await t.gql(ME, {}, bearer(body.access_token))).body.data!.me.email).toBe(user.email);

    const rotated = await token({ grant_type: 'refresh_token', refresh_token: body.refresh_token });
    expect(rotated.status).toBe(200);
    const again = await token({ grant_type: 'refresh_token', refresh_token: body.refresh_token });
    expect(again.status).toBe(400);
    expect((await again.json()) as object).toEqual(expect.objectContaining({ error: 'invalid_grant' }));
  });

  it.each<[string, Record<string, string>, string]>([
    [
      'a wrong password',
      { grant_type: 'password', username: 'nobody@example.com', password: 'Wrong-1-pass' },
      'invalid_grant',
    ],
    ['a missing password', { grant_type: 'password', username: 'nobody@example.com' }, 'invalid_request'],
    ['a missing grant_type', { username: 'a@example.com' }, 'invalid_request'],
    ['an unknown grant_type', { grant_type: 'client_credentials' }, 'unsupported_grant_type'],
    ['a bad refresh token', { grant_type: 'refresh_token', refresh_token: 'abc' }, 'invalid_grant'],
  ])('answers 400 for %s', async (_label, form, error) => {
    const res = await token(form);
    expect(res.status).toBe(400);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(((await res.json()) as { error: string }).error).toBe(error);
  });

  it('answers 400 invalid_request for a JSON body', async () => {
    const res = await token({ grant_type: 'password', username: 'a@example.com', password: 'x' }, 'application/json');
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: string }).error).toBe('invalid_request');
  });

  it('shares the lockout with the GraphQL login', async () => {
    const user = await signUp(t);
    const wrong = { grant_type: 'password', username: user.email, password: 'Wrong-Password-99' };
    expect((await token(wrong)).status).toBe(400);
    expect((await token(wrong)).status).toBe(400);
    const locked = await token({ grant_type: 'password', username: user.email, password: user.password });
    expect(locked.status).toBe(429);
    expect(locked.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(codes(await t.gql(LOGIN, { input: { email: user.email, password: user.password } }))).toEqual([
      'TOO_MANY_REQUESTS',
    ]);
  });
});
