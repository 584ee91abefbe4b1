import { randomInt } from 'node:crypto';
import mongoose from 'mongoose';
import { bearer, LOGIN, REFRESH, REGISTER, signUp, strongPassword, uniqueEmail } from '../../helpers/auth';
import { codes, type GraphQLResponse } from '../../helpers/graphql';
import { DeferredWindowCounter } from '../../../src/http/read-limit';
import { startTestServer, type TestServer } from '../../helpers/server';

const LIMITS = { RATE_LIMIT_PER_IP: '3', RATE_LIMIT_PER_ACCOUNT: '2', RATE_LIMIT_WINDOW_SECONDS: '60' };
/** A client address of its own, so each test starts with an empty per-IP window. */
const freshIp = () => ({ 'x-forwarded-for': `10.${randomInt(255)}.${randomInt(255)}.${randomInt(1, 255)}` });

function expectLimited(res: GraphQLResponse): void {
  expect(codes(res)).toContain('TOO_MANY_REQUESTS');
  expect(res.status).toBe(429);
  expect(Number(res.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
}

describe('rate limits behind a trusted proxy (TRUST_PROXY=true)', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer({ ...LIMITS, TRUST_PROXY: 'true' });
  });
  afterAll(() => t.stop());

  it('limits register per client IP, with Retry-After', async () => {
    const ip = freshIp();
    for (let i = 0; i < 3; i++) {
      const res = await t.gql(REGISTER, { input: { email: uniqueEmail(), password: strongPassword() } }, ip);
      expect(res.body.data?.register).toBeTruthy();
    }
    expectLimited(await t.gql(REGISTER, { input: { email: uniqueEmail(), password: strongPassword() } }, ip));
    // Another client address is not affected.
    const other = await t.gql(REGISTER, { input: { email: uniqueEmail(), password: strongPassword() } }, freshIp());
    expect(other.body.data?.register).toBeTruthy();
  });

  it('limits login per account across client addresses', async () => {
    const user = await signUp(t, uniqueEmail(), strongPassword(), freshIp());
    const login = () => t.gql(LOGIN, { input: { email: user.email, password: user.password } }, freshIp());
    expect((await login()).body.data?.login).toBeTruthy();
    expect((await login()).body.data?.login).toBeTruthy();
    expectLimited(await login());
  });

  it('counts every aliased field of one request as an attempt', async () => {
    const user = await signUp(t, uniqueEmail(), strongPassword(), freshIp());
    const fields = [1, 2, 3, 4].map((i) => `a${i}: login(input: $input) { accessToken }`).join(' ');
    const res = await t.gql(
      `mutation($input: LoginInput!) { ${fields} }`,
      { input: { email: user.email, password: user.password } },
      freshIp(),
    );
    expectLimited(res);
    const counter = await mongoose.connection
      .db!.collection('rate_limits')
      .findOne({ _id: `login:account:${user.email}` as unknown as mongoose.mongo.ObjectId });
    expect(counter!.count).toBe(3);
  });

  it('limits refreshToken and changePassword', async () => {
    const user = await signUp(t, uniqueEmail(), strongPassword(), freshIp());
    const ip = freshIp();
    let refreshToken = user.refreshToken;
    for (let i = 0; i < 2; i++) {
      const res = await t.gql<{ refreshToken: { refreshToken: string } }>(REFRESH, { t: refreshToken }, ip);
      refreshToken = res.body.data!.refreshToken.refreshToken;
    }
    expectLimited(await t.gql(REFRESH, { t: refreshToken }, ip));

    const change = (auth: string) =>
      t.gql(
        'mutation($c: String!, $n: String!) { changePassword(currentPassword: $c, newPassword: $n) { accessToken } }',
        { c: 'Wrong-Password-1', n: strongPassword() },
        { ...bearer(auth), ...freshIp() },
      );
    const other = await signUp(t, uniqueEmail(), strongPassword(), freshIp());
    expect(codes(await change(other.accessToken))).toEqual(['BAD_USER_INPUT']);
    expect(codes(await change(other.accessToken))).toEqual(['BAD_USER_INPUT']);
    expectLimited(await change(other.accessToken));
  });

  it('limits POST /oauth/token per client IP with 429 and Retry-After', async () => {
    const ip = freshIp();
    const token = () =>
      fetch(`${t.url}/oauth/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', ...ip },
        body: new URLSearchParams({ grant_type: 'password', username: uniqueEmail(), password: 'x' }).toString(),
      });
    for (let i = 0; i < 3; i++) expect((await token()).status).toBe(400);
    const limited = await token();
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
  });

  it('keeps its counters in MongoDB, where every instance sees them', async () => {
    const count = await mongoose.connection.db!.collection('rate_limits').countDocuments();
    expect(count).toBeGreaterThan(0);
  });
});

describe('rate limits without a trusted proxy (TRUST_PROXY=false, the default)', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer(LIMITS);
  });
  afterAll(() => t.stop());

  it('ignores X-Forwarded-For: a client cannot pick a fresh address per request', async () => {
    for (let i = 0; i < 3; i++) {
      const res = await t.gql(REGISTER, { input: { email: uniqueEmail(), password: strongPassword() } }, freshIp());
      expect(res.body.data?.register).toBeTruthy();
    }
    expectLimited(await t.gql(REGISTER, { input: { email: uniqueEmail(), password: strongPassword() } }, freshIp()));
  });
});

describe('the per-user read limit (READ_RATE_LIMIT_PER_USER)', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer({ READ_RATE_LIMIT_PER_USER: '3', RATE_LIMIT_WINDOW_SECONDS: '60' });
  });
  afterAll(() => t.stop());

  const READ = '{ me { id } items(first: 1) { edges { node { id } } } }';
  const readOk = (res: GraphQLResponse) => expect([res.status, res.body.errors]).toEqual([200, undefined]);

  it('answers the read past the limit with 429 and Retry-After; another user and writes are unaffected', async () => {
    const alice = await signUp(t);
    const bob = await signUp(t);
    for (let i = 0; i < 3; i++) readOk(await t.gql(READ, {}, bearer(alice.accessToken)));
    expectLimited(await t.gql(READ, {}, bearer(alice.accessToken)));
    readOk(await t.gql(READ, {}, bearer(bob.accessToken)));
    // A write is a write (WRITE_RATE_LIMIT_PER_USER), not a read.
    readOk(await t.gql('mutation { createItem(input: { name: "still" }) { id } }', {}, bearer(alice.accessToken)));
  });

  it("counts an API key's reads against its owner, with the owner's own reads", async () => {
    const owner = await signUp(t);
    const created = await t.gql<{ createApiKey: { secret: string } }>(
      'mutation { createApiKey(input: { name: "reader", scopes: [ITEMS_READ] }) { secret } }',
      {},
      bearer(owner.accessToken),
    );
    const key = bearer(created.body.data!.createApiKey.secret);
    const items = '{ items(first: 1) { edges { node { id } } } }';
    readOk(await t.gql(items, {}, bearer(owner.accessToken)));
    readOk(await t.gql(items, {}, key));
    readOk(await t.gql(items, {}, bearer(owner.accessToken)));
    expectLimited(await t.gql(items, {}, key));
    expectLimited(await t.gql(items, {}, bearer(owner.accessToken)));
  });

  it('shares the count between instances through the database, written behind every 250 ms', async () => {
    // Two instances' counters for one user: each adds its hits to the shared window in one write.
    const [a, b] = [new DeferredWindowCounter(60, t.server.logger), new DeferredWindowCounter(60, t.server.logger)];
    const key = `read:user:${new mongoose.Types.ObjectId().toHexString()}`;
    for (let i = 0; i < 5; i++) a.hit(key);
    await a.flush();
    // B has not read the shared window yet: it knows only its own hit.
    expect(b.hit(key).count).toBe(1);
    await b.flush();
    expect(b.hit(key).count).toBe(7);
    const stored = await mongoose.connection.db!.collection('rate_limits').findOne({ _id: key as never });
    expect(stored!.count).toBe(6);
    await Promise.all([a.stop(), b.stop()]);
    // Stopping wrote B's last hit.
    expect((await mongoose.connection.db!.collection('rate_limits').findOne({ _id: key as never }))!.count).toBe(7);
  });

  it('counts the hits being written: a burst during a flush is still refused', async () => {
    const counter = new DeferredWindowCounter(60, t.server.logger);
    const key = `read:user:${new mongoose.Types.ObjectId().toHexString()}`;
    for (let i = 0; i < 3; i++) counter.hit(key);
    const flushing = counter.flush();
    expect(counter.hit(key).count).toBe(4);
    await flushing;
    expect(counter.hit(key).count).toBe(5);
    await counter.stop();
  });
});
