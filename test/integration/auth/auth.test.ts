import mongoose from 'mongoose';
import {
  basic,
  bearer,
  LOGIN,
  ME,
  REGISTER,
  signUp,
  strongPassword,
  uniqueEmail,
  type Payload,
} from '../../helpers/auth';
import { codes } from '../../helpers/graphql';
import { startTestServer, type TestServer } from '../../helpers/server';

/** Failed (or in-flight) password attempts counted for an email. */
async function attemptsOf(email: string): Promise<number | undefined> {
  const doc = await mongoose.connection
    .db!.collection<{ _id: string; count: number }>('rate_limits')
    .findOne({ _id: `lockout:${email}` });
  return doc?.count;
}

describe('register and login', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer({ LOGIN_MAX_ATTEMPTS: '3', LOGIN_LOCK_SECONDS: '900' });
  });
  afterAll(() => t.stop());

  const register = (email: unknown, password: unknown) =>
    t.gql<{ register: Payload }>(REGISTER, { input: { email, password } });
  const login = (email: unknown, password: unknown) => t.gql<{ login: Payload }>(LOGIN, { input: { email, password } });

  it('registers with a trimmed, lower-cased email and returns a Bearer token pair', async () => {
    const local = uniqueEmail('Mixed').replace('@example.com', '');
    const res = await register(`  ${local.toUpperCase()}@Example.COM `, strongPassword());
    expect(res.status).toBe(200);
    const payload = res.body.data!.register;
    expect(payload.user.email).toBe(`${local.toLowerCase()}@example.com`);
    expect(payload.user.role).toBe('USER');
    expect(payload.user.disabled).toBe(false);
    expect(payload.tokenType).toBe('Bearer');
    expect(payload.expiresIn).toBe(t.config.jwt.accessTokenTtl);
    expect(payload.refreshToken.length).toBeGreaterThanOrEqual(43);
    const me = await t.gql(ME, {}, bearer(payload.accessToken));
    expect(me.body.data!.me.email).toBe(payload.user.email);
  });

  it('answers CONFLICT for an email that exists in any letter case', async () => {
    const { email } = await signUp(t);
    const res = await register(email.toUpperCase(), strongPassword());
    expect(codes(res)).toEqual(['CONFLICT']);
  });

  it('gives exactly one success and nineteen CONFLICTs for twenty concurrent registrations', async () => {
    const email = uniqueEmail('race');
    const results = await Promise.all(Array.from({ length: 20 }, () => register(email, strongPassword())));
    const all = results.flatMap((r) => (r.body.data?.register ? ['OK'] : codes(r)));
    expect(all.filter((c) => c === 'OK')).toHaveLength(1);
    expect(all.filter((c) => c === 'CONFLICT')).toHaveLength(19);
    for (const r of results) {
      expect(r.status).toBeLessThan(500);
      expect(JSON.stringify(r.body)).not.toMatch(/E11000|duplicate key/i);
    }
  });

  it.each([
    ['not an email', 'no-at-sign', strongPassword(), 'email'],
    ['an email over 254 characters', `${'a'.repeat(250)}@example.com`, strongPassword(), 'email'],
    ['a password under 8 characters', uniqueEmail(), 'Ab1-x', 'password'],
    // 37 two-byte characters: 37 characters, 74 bytes. Never truncated to 72 silently.
    ['a password over 72 bytes in UTF-8', uniqueEmail(), 'é'.repeat(37), 'password'],
    ['a password with a NUL byte', uniqueEmail(), `${strongPassword()}\u0000tail`, 'password'],
    ['a common password', uniqueEmail(), 'password123', 'password'],
    ['a password made of the email', 'correcthorse@example.com', 'correcthorse', 'password'],
  ])('refuses %s with BAD_USER_INPUT naming the field', async (_label, email, password, field) => {
    const res = await register(email, password);
    expect(codes(res)).toEqual(['BAD_USER_INPUT']);
    expect(res.body.errors![0]!.extensions!.field).toBe(field);
  });

  it('accepts a password of exactly 72 bytes, and login needs all of it', async () => {
    const password = `${strongPassword()}${'x'.repeat(72)}`.slice(0, 72);
    expect(Buffer.byteLength(password)).toBe(72);
    const { email } = await signUp(t, uniqueEmail(), password);
    expect((await login(email, password)).body.data?.login.user.email).toBe(email);
    expect(codes(await login(email, password.slice(0, 71)))).toEqual(['UNAUTHENTICATED']);
  });

  it('gives an unknown email and a wrong password the same code and message', async () => {
    const { email } = await signUp(t);
    const wrong = await login(email, 'Not-The-Password-1');
    const unknown = await login(uniqueEmail('nobody'), 'Not-The-Password-1');
    expect(codes(wrong)).toEqual(['UNAUTHENTICATED']);
    expect(codes(unknown)).toEqual(['UNAUTHENTICATED']);
    expect(unknown.body.errors![0]!.message).toBe(wrong.body.errors![0]!.message);
  });

  it('logs in with the email in another letter case and padded with spaces', async () => {
    const { email, password } = await signUp(t);
    const res = await login(`  ${email.toUpperCase()} `, password);
    expect(res.body.data!.login.user.email).toBe(email);
  });

  it('never exposes a password hash', async () => {
    const { email, password, accessToken } = await signUp(t);
    const responses = [
      await login(email, password),
      await t.gql(ME, {}, bearer(accessToken)),
      await t.gql('{ me { passwordHash } }', {}, bearer(accessToken)),
    ];
    for (const r of responses) expect(JSON.stringify(r.body)).not.toMatch(/\$2[aby]\$/);
    expect(codes(responses[2]!)).toEqual(['GRAPHQL_VALIDATION_FAILED']);
    const stored = await mongoose.connection.db!.collection('users').findOne({ email });
    expect(stored!.passwordHash).toMatch(/^\$bcrypt-sha256\$\$2[aby]\$04\$/);
  });

  it('answers me with null for an anonymous caller, not an error', async () => {
    const res = await t.gql(ME);
    expect(res.status).toBe(200);
    expect(res.body.errors).toBeUndefined();
    expect(res.body.data!.me).toBeNull();
  });

  describe('lockout (LOGIN_MAX_ATTEMPTS=3)', () => {
    it('locks an account after three failures, even against the right password, also over HTTP Basic', async () => {
      const { email, password } = await signUp(t);
      for (let i = 0; i < 3; i++) expect(codes(await login(email, 'Wrong-Password-99'))).toEqual(['UNAUTHENTICATED']);
      const locked = await login(email, password);
      expect(codes(locked)).toEqual(['TOO_MANY_REQUESTS']);
      expect(locked.headers.get('retry-after')).toMatch(/^\d+$/);
      // HTTP Basic shares the lockout.
      const viaBasic = await t.gql(ME, {}, basic(email, password));
      expect(viaBasic.status).toBe(429);
      expect(codes(viaBasic)).toEqual(['TOO_MANY_REQUESTS']);
    });

    it('counts aliased login fields as attempts: a failed one ends the request, each request counts', async () => {
      const { email, password } = await signUp(t);
      const aliases = [1, 2, 3].map((i) => `a${i}: login(input: $input) { accessToken }`).join(' ');
      const attack = () =>
        t.gql(`mutation($input: LoginInput!) { ${aliases} }`, { input: { email, password: 'Wrong-Password-99' } });
      // Mutation fields run one after another, and a failed non-null field stops the rest.
      const first = await attack();
      expect(codes(first)).toEqual(['UNAUTHENTICATED']);
      expect(first.body.data).toBeNull();
      expect(await attemptsOf(email)).toBe(1);
      await attack();
      await attack();
      expect(codes(await login(email, password))).toEqual(['TOO_MANY_REQUESTS']);
    });

    it('resets the count after a successful login', async () => {
      const { email, password } = await signUp(t);
      for (let round = 0; round < 3; round++) {
        expect(codes(await login(email, 'Wrong-Password-99'))).toEqual(['UNAUTHENTICATED']);
        expect(codes(await login(email, 'Wrong-Password-99'))).toEqual(['UNAUTHENTICATED']);
        expect((await login(email, password)).body.data?.login).toBeTruthy();
      }
    });

    it('keeps the count in MongoDB, per normalised email, where every instance sees it', async () => {
      const { email } = await signUp(t);
      await login(email, 'Wrong-Password-99');
      await login(` ${email.toUpperCase()}`, 'Wrong-Password-99');
      expect(await attemptsOf(email)).toBe(2);
    });
  });
});

describe('a lock that expires (LOGIN_LOCK_SECONDS=1)', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer({ LOGIN_MAX_ATTEMPTS: '2', LOGIN_LOCK_SECONDS: '1' });
  });
  afterAll(() => t.stop());

  it('lets the right password in again once the lock has run out', async () => {
    const { email, password } = await signUp(t);
    const login = (p: string) => t.gql(LOGIN, { input: { email, password: p } });
    await login('Wrong-Password-99');
    await login('Wrong-Password-99');
    expect(codes(await login(password))).toEqual(['TOO_MANY_REQUESTS']);
    await new Promise((r) => setTimeout(r, 1300));
    expect((await login(password)).body.data?.login).toBeTruthy();
  });
});
