import { createHmac, randomInt } from 'node:crypto';
import bcrypt from 'bcrypt';
import mongoose from 'mongoose';
import { basic, bearer, LOGIN, ME, REGISTER, signUp, strongPassword, uniqueEmail } from '../../helpers/auth';
import { codes, type GraphQLResponse } from '../../helpers/graphql';
import { startTestServer, type TestServer } from '../../helpers/server';

const CHANGE_PASSWORD =
  'mutation($c: String!, $n: String!) { changePassword(currentPassword: $c, newPassword: $n) { accessToken } }';

/** What a response says, for tallies: OK, or its first error code. */
const outcome = (res: GraphQLResponse) => (res.body.errors?.length ? codes(res)[0]! : 'OK');
const tally = (list: string[]) => list.reduce<Record<string, number>>((t, c) => ({ ...t, [c]: (t[c] ?? 0) + 1 }), {});

async function attemptsOf(email: string): Promise<number | undefined> {
  const doc = await mongoose.connection
    .db!.collection<{ _id: string; count: number }>('rate_limits')
    .findOne({ _id: `lockout:${email}` });
  return doc?.count;
}

async function until(check: () => Promise<boolean>, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline && !(await check())) await new Promise((r) => setTimeout(r, 5));
}

describe('lockout under parallel bursts (LOGIN_MAX_ATTEMPTS=5, bcrypt cost 10)', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer({ LOGIN_MAX_ATTEMPTS: '5', LOGIN_LOCK_SECONDS: '900', BCRYPT_COST: '10' });
  });
  afterAll(() => t.stop());

  it('evaluates at most 5 of 40 parallel HTTP Basic guesses, and refuses the right password sent during the burst', async () => {
    const user = await signUp(t);
    const burst = Array.from({ length: 40 }, (_, i) => t.gql(ME, {}, basic(user.email, `Wrong-Guess-${i}-zz`)));
    // Once the guesses have taken every slot (while most are still in flight), the owner tries.
    await until(async () => ((await attemptsOf(user.email)) ?? 0) >= 5);
    const right = t.gql(ME, {}, basic(user.email, user.password));
    const results = await Promise.all(burst);
    expect(results.filter((r) => r.status === 401)).toHaveLength(5);
    expect(results.filter((r) => r.status === 429)).toHaveLength(35);
    for (const r of results.filter((x) => x.status === 429))
      expect(Number(r.headers.get('retry-after'))).toBeGreaterThan(0);
    const answer = await right;
    expect(answer.status).toBe(429);
    expect(codes(answer)).toEqual(['TOO_MANY_REQUESTS']);
  });

  it('evaluates at most 5 of 30 parallel login guesses, and the right password is refused afterwards', async () => {
    const user = await signUp(t);
    const guesses = await Promise.all(
      Array.from({ length: 30 }, (_, i) =>
        t.gql(LOGIN, { input: { email: user.email, password: `Wrong-${i}-guess` } }),
      ),
    );
    expect(tally(guesses.map(outcome))).toEqual({ UNAUTHENTICATED: 5, TOO_MANY_REQUESTS: 25 });
    expect(codes(await t.gql(LOGIN, { input: { email: user.email, password: user.password } }))).toEqual([
      'TOO_MANY_REQUESTS',
    ]);
  });

  it('answers and locks an unknown email exactly like an existing one, and both run bcrypt', async () => {
    const known = await signUp(t);
    const sequence = async (email: string) => {
      const steps: string[] = [];
      const took: number[] = [];
      for (let i = 0; i < 6; i++) {
        const started = Date.now();
        const res = await t.gql(LOGIN, { input: { email, password: 'Wrong-Password-99' } });
        took.push(Date.now() - started);
        steps.push(`${res.status}:${outcome(res)}:${res.body.errors?.[0]?.message}`);
      }
      return { steps, took };
    };
    const existing = await sequence(known.email);
    const unknown = await sequence(uniqueEmail('nobody'));
    expect(unknown.steps).toEqual(existing.steps);
    expect(existing.steps.map((s) => s.split(':')[1])).toEqual([
      ...Array(5).fill('UNAUTHENTICATED'),
      'TOO_MANY_REQUESTS',
    ]);
    // The five evaluated attempts compared a bcrypt hash at cost 10 (tens of ms) in both cases.
    for (const ms of [...existing.took.slice(0, 5), ...unknown.took.slice(0, 5)]) expect(ms).toBeGreaterThanOrEqual(20);
  });

  it('takes as long for a long password against an old-format hash as for an unknown email', async () => {
    // Plain bcrypt ignores bytes after the 72nd, so such a password can never match an old hash;
    // answering at once would tell that the account exists (and still has its old hash).
    const { email } = await signUp(t);
    await mongoose.connection
      .db!.collection('users')
      .updateOne({ email }, { $set: { passwordHash: await bcrypt.hash(strongPassword(), 10) } });
    const started = Date.now();
    const res = await t.gql(LOGIN, { input: { email, password: `${strongPassword()}-${'x'.repeat(80)}` } });
    expect(codes(res)).toEqual(['UNAUTHENTICATED']);
    expect(Date.now() - started).toBeGreaterThanOrEqual(20);
  });

  it('rewrites a hash made at another cost at the next sign-in, so every account costs the same', async () => {
    const { email, password } = await signUp(t);
    const users = mongoose.connection.db!.collection('users');
    const stored = (await users.findOne({ email }))!.passwordHash as string;
    expect(stored).toMatch(/^\$bcrypt-sha256\$\$2[aby]\$10\$/);
    // The same scheme at cost 4, as if BCRYPT_COST had been raised since it was written.
    const salt = await bcrypt.genSalt(4);
    const preHash = createHmac('sha256', salt).update(password, 'utf8').digest('base64');
    await users.updateOne({ email }, { $set: { passwordHash: `$bcrypt-sha256$${await bcrypt.hash(preHash, salt)}` } });
    expect((await t.gql(LOGIN, { input: { email, password } })).body.data?.login).toBeTruthy();
    expect((await users.findOne({ email }))!.passwordHash).toMatch(/^\$bcrypt-sha256\$\$2[aby]\$10\$/);
  });

  it('counts a wrong currentPassword in changePassword as a failed sign-in, and locks the same way', async () => {
    const user = await signUp(t);
    const change = (current: string) =>
      t.gql(CHANGE_PASSWORD, { c: current, n: strongPassword() }, bearer(user.accessToken));
    for (let i = 0; i < 5; i++) {
      const res = await change('Wrong-Password-99');
      expect(codes(res)).toEqual(['BAD_USER_INPUT']);
      expect(res.body.errors![0]!.extensions!.field).toBe('currentPassword');
    }
    expect(codes(await change(user.password))).toEqual(['TOO_MANY_REQUESTS']);
    expect(codes(await t.gql(LOGIN, { input: { email: user.email, password: user.password } }))).toEqual([
      'TOO_MANY_REQUESTS',
    ]);
  });

  it('counts parallel wrong changePassword calls against the same limit', async () => {
    const user = await signUp(t);
    const results = await Promise.all(
      Array.from({ length: 12 }, () =>
        t.gql(CHANGE_PASSWORD, { c: 'Wrong-Password-99', n: strongPassword() }, bearer(user.accessToken)),
      ),
    );
    expect(tally(results.map(outcome))).toEqual({ BAD_USER_INPUT: 5, TOO_MANY_REQUESTS: 7 });
  });
});

describe('HTTP Basic is rate limited like login (TRUST_PROXY=true, 3 per IP, 2 per account)', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer({
      TRUST_PROXY: 'true',
      RATE_LIMIT_PER_IP: '3',
      RATE_LIMIT_PER_ACCOUNT: '2',
      LOGIN_MAX_ATTEMPTS: '100',
    });
  });
  afterAll(() => t.stop());
  const ip = () => ({ 'x-forwarded-for': `10.${randomInt(255)}.${randomInt(255)}.${randomInt(1, 255)}` });

  it('limits Basic checks per client IP across accounts, with 429 and Retry-After', async () => {
    const from = ip();
    for (let i = 0; i < 3; i++)
      expect((await t.gql(ME, {}, { ...basic(uniqueEmail(), 'Wrong-Password-1'), ...from })).status).toBe(401);
    const limited = await t.gql(ME, {}, { ...basic(uniqueEmail(), 'Wrong-Password-1'), ...from });
    expect(limited.status).toBe(429);
    expect(codes(limited)).toEqual(['TOO_MANY_REQUESTS']);
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
  });

  it('limits Basic checks per account across client IPs, shared with login', async () => {
    const user = await signUp(t, uniqueEmail(), strongPassword(), ip());
    expect((await t.gql(LOGIN, { input: { email: user.email, password: 'Wrong-1-pass' } }, ip())).status).toBe(200);
    expect((await t.gql(ME, {}, { ...basic(user.email, 'Wrong-1-pass'), ...ip() })).status).toBe(401);
    expect((await t.gql(ME, {}, { ...basic(user.email, user.password), ...ip() })).status).toBe(429);
  });

  it('does not count cached Basic successes: a script may call as often as it needs', async () => {
    const user = await signUp(t, uniqueEmail(), strongPassword(), ip());
    const from = ip();
    for (let i = 0; i < 6; i++) {
      const res = await t.gql(ME, {}, { ...basic(user.email, user.password), ...from });
      expect(res.body.data?.me).toMatchObject({ email: user.email });
    }
  });

  it('counts IPv6 clients per /64: rotating addresses inside one prefix does not escape the limit', async () => {
    const prefix = `2001:db8:${randomInt(0xffff).toString(16)}:${randomInt(0xffff).toString(16)}`;
    const register = (address: string) =>
      t.gql(REGISTER, { input: { email: uniqueEmail(), password: strongPassword() } }, { 'x-forwarded-for': address });
    for (const host of ['1', 'a:b:c:d', 'ffff:ffff:ffff:fffe'])
      expect((await register(`${prefix}:${host.includes(':') ? host : `:${host}`}`)).body.data?.register).toBeTruthy();
    expect((await register(`${prefix}::77`)).status).toBe(429);
    // The next /64 is another client.
    const [a, b, c, d] = prefix.split(':');
    const next = `${a}:${b}:${c}:${(parseInt(d!, 16) + 1).toString(16)}::1`;
    expect((await register(next)).body.data?.register).toBeTruthy();
  });
});

describe('the password hashing queue is bounded (BCRYPT_MAX_QUEUE=1, cost 12)', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer({ BCRYPT_MAX_QUEUE: '1', BCRYPT_COST: '12', LOGIN_MAX_ATTEMPTS: '100' });
  });
  afterAll(() => t.stop());

  it('answers 503 with Retry-After at once when the queue is full, and serves sign-ins again after', async () => {
    const user = await signUp(t);
    const flood = await Promise.all(
      Array.from({ length: 20 }, () => t.gql(ME, {}, basic(uniqueEmail('flood'), 'Wrong-Password-1'))),
    );
    const statuses = tally(flood.map((r) => String(r.status)));
    // Two hashing threads and one waiting place: whatever arrives while they are busy is refused.
    expect(Object.keys(statuses).sort()).toEqual(['401', '503']);
    for (const r of flood.filter((x) => x.status === 503)) {
      expect(codes(r)).toEqual(['SERVICE_UNAVAILABLE']);
      expect(Number(r.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    }
    // A refused check costs the account nothing: the flood is over and the right password works.
    expect(
      (await t.gql(LOGIN, { input: { email: user.email, password: user.password } })).body.data?.login,
    ).toBeTruthy();
  });

  it('answers a login mutation that finds the queue full with 503 SERVICE_UNAVAILABLE too', async () => {
    const results = await Promise.all(
      Array.from({ length: 12 }, () =>
        t.gql(LOGIN, { input: { email: uniqueEmail('flood'), password: 'Wrong-Password-1' } }),
      ),
    );
    const busy = results.filter((r) => codes(r)[0] === 'SERVICE_UNAVAILABLE');
    expect(busy.length).toBeGreaterThan(0);
    for (const r of busy) {
      expect(r.status).toBe(503);
      expect(Number(r.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    }
  });
});

describe('long passphrases (up to 128 characters, no truncation)', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer();
  });
  afterAll(() => t.stop());
  const login = (email: string, password: string) => t.gql(LOGIN, { input: { email, password } });

  it('accepts a 40-character Cyrillic passphrase (80 bytes in UTF-8) and signs in with it', async () => {
    const passphrase = 'тихая гавань светит ночью ярко звёзды ок';
    expect([...passphrase]).toHaveLength(40);
    expect(Buffer.byteLength(passphrase)).toBeGreaterThan(72);
    const { email } = await signUp(t, uniqueEmail(), passphrase);
    expect((await login(email, passphrase)).body.data?.login.user.email).toBe(email);
  });

  it('never matches two passwords that differ only after byte 72', async () => {
    const base = `${strongPassword()}-${'k'.repeat(80)}`;
    const password = `${base}A`;
    const { email } = await signUp(t, uniqueEmail(), password);
    expect(codes(await login(email, `${base}B`))).toEqual(['UNAUTHENTICATED']);
    expect((await login(email, password)).body.data?.login).toBeTruthy();
  });

  it('accepts 128 characters and refuses 129 with BAD_USER_INPUT', async () => {
    const long = (n: number) => `${strongPassword()}${'ж'.repeat(200)}`.slice(0, n);
    expect(
      (await t.gql(REGISTER, { input: { email: uniqueEmail(), password: long(128) } })).body.data?.register,
    ).toBeTruthy();
    const res = await t.gql(REGISTER, { input: { email: uniqueEmail(), password: long(129) } });
    expect(codes(res)).toEqual(['BAD_USER_INPUT']);
    expect(res.body.errors![0]!.extensions!.field).toBe('password');
  });

  it('keeps accepting a hash stored before the pre-hash scheme, and upgrades it at sign-in', async () => {
    const { email } = await signUp(t);
    const legacyPassword = strongPassword();
    const users = mongoose.connection.db!.collection('users');
    await users.updateOne({ email }, { $set: { passwordHash: await bcrypt.hash(legacyPassword, 4) } });
    expect((await login(email, legacyPassword)).body.data?.login).toBeTruthy();
    const stored = await users.findOne({ email });
    expect(stored!.passwordHash).toMatch(/^\$bcrypt-sha256\$\$2[aby]\$04\$/);
    expect((await login(email, legacyPassword)).body.data?.login).toBeTruthy();
    expect(codes(await login(email, 'Wrong-Password-99'))).toEqual(['UNAUTHENTICATED']);
  });
});
