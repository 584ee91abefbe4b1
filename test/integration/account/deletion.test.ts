import { randomBytes } from 'node:crypto';
import mongoose from 'mongoose';
import { flushAuditEvents } from '../../../src/audit/audit.service';
import { bearer, LOGIN, logIn, ME, REFRESH, REGISTER, signUp, strongPassword, uniqueEmail } from '../../helpers/auth';
import { codes, type GraphQLResponse } from '../../helpers/graphql';
import { startTestServer, type TestServer } from '../../helpers/server';

const DELETE_ACCOUNT = 'mutation($p: String!) { deleteAccount(currentPassword: $p) }';
const DELETE_USER = 'mutation($id: ID!) { deleteUser(userId: $id) }';
const CREATE_KEY = 'mutation($input: CreateApiKeyInput!) { createApiKey(input: $input) { secret } }';
const db = () => mongoose.connection.db!;

describe('account deletion', () => {
  const ADMIN_EMAIL = uniqueEmail('admin');
  const ADMIN_PASSWORD = strongPassword();
  let t: TestServer;
  let admin: Awaited<ReturnType<typeof logIn>>;
  beforeAll(async () => {
    // Sign-ins racing a deletion below hold lockout slots in flight: far more than the default 5.
    t = await startTestServer({ ADMIN_EMAIL, ADMIN_PASSWORD, LOGIN_MAX_ATTEMPTS: '1000' });
    admin = await logIn(t, ADMIN_EMAIL, ADMIN_PASSWORD);
  });
  afterAll(() => t.stop());

  /** A user with two items, a second session and a pending link token. */
  async function userWithData() {
    const user = await signUp(t);
    for (const name of ['one', 'two'])
      await t.gql(
        'mutation($n: String!) { createItem(input: { name: $n }) { id } }',
        { n: name },
        bearer(user.accessToken),
      );
    await logIn(t, user.email, user.password);
    await db()
      .collection<{ _id: string } & Record<string, unknown>>('account_tokens')
      .insertOne({
        _id: randomBytes(32).toString('hex'),
        userId: user.user.id,
        kind: 'VERIFY_EMAIL',
        email: user.email,
        expiresAt: new Date(Date.now() + 3600_000),
      });
    return user;
  }

  async function leftovers(userId: string) {
    return {
      users: await db()
        .collection('users')
        .countDocuments({ _id: new mongoose.Types.ObjectId(userId) }),
      sessions: await db().collection('sessions').countDocuments({ userId }),
      items: await db().collection('items').countDocuments({ ownerId: userId }),
      quotas: await db().collection<{ _id: string }>('item_quotas').countDocuments({ _id: userId }),
      tokens: await db().collection('account_tokens').countDocuments({ userId }),
      apiKeys: await db().collection('api_keys').countDocuments({ ownerId: userId }),
      totp: await db().collection<{ _id: string }>('totp_credentials').countDocuments({ _id: userId }),
      mail: await db().collection('mail_outbox').countDocuments({ userId }),
    };
  }
  const NOTHING = { users: 0, sessions: 0, items: 0, quotas: 0, tokens: 0, apiKeys: 0, totp: 0, mail: 0 };

  it('deletes my account with my password: user, sessions, items, quota and link tokens; the email is free again', async () => {
    const user = await userWithData();
    expect((await leftovers(user.user.id)).items).toBe(2);
    const res = await t.gql(DELETE_ACCOUNT, { p: user.password }, bearer(user.accessToken));
    expect(res.body.data).toEqual({ deleteAccount: true });
    expect(await leftovers(user.user.id)).toEqual(NOTHING);
    expect((await t.gql(ME, {}, bearer(user.accessToken))).status).toBe(401);
    expect(codes(await t.gql(REFRESH, { t: user.refreshToken }))).toEqual(['UNAUTHENTICATED']);
    expect(codes(await t.gql(LOGIN, { input: { email: user.email, password: user.password } }))).toEqual([
      'UNAUTHENTICATED',
    ]);
    const again = await t.gql(REGISTER, { input: { email: user.email, password: strongPassword() } });
    expect(again.body.data?.register.user.id).not.toBe(user.user.id);
  });

  it('keeps the audit events of a deleted user, with a USER_DELETED event', async () => {
    const user = await userWithData();
    await t.gql(DELETE_ACCOUNT, { p: user.password }, bearer(user.accessToken));
    await flushAuditEvents();
    const events = await t.gql(
      'query($id: ID!) { auditEvents(filter: { userId: $id }) { edges { node { type actorId } } } }',
      { id: user.user.id },
      bearer(admin.accessToken),
    );
    const types = events.body.data!.auditEvents.edges.map((e: { node: { type: string } }) => e.node.type);
    expect(types[0]).toBe('USER_DELETED');
    expect(types).toContain('LOGIN_SUCCEEDED');
  });

  it('lets an admin delete a user, and only an admin', async () => {
    const user = await userWithData();
    const other = await signUp(t);
    expect(codes(await t.gql(DELETE_USER, { id: user.user.id }, bearer(other.accessToken)))).toEqual(['FORBIDDEN']);
    expect(codes(await t.gql(DELETE_USER, { id: user.user.id }))).toEqual(['UNAUTHENTICATED']);
    expect((await t.gql(DELETE_USER, { id: user.user.id }, bearer(admin.accessToken))).body.data).toEqual({
      deleteUser: true,
    });
    expect(await leftovers(user.user.id)).toEqual(NOTHING);
    // The other user's data is untouched.
    expect((await leftovers(other.user.id)).users).toBe(1);
    expect(codes(await t.gql(DELETE_USER, { id: user.user.id }, bearer(admin.accessToken)))).toEqual(['NOT_FOUND']);
    expect(codes(await t.gql(DELETE_USER, { id: 'nope' }, bearer(admin.accessToken)))).toEqual(['BAD_USER_INPUT']);
  });

  it("shows others the items of a user whose deletion was cut off, with the owner's id and no name", async () => {
    const user = await userWithData();
    await db()
      .collection('users')
      .deleteOne({ _id: new mongoose.Types.ObjectId(user.user.id) });
    const viewer = await signUp(t);
    const res = await t.gql(
      'query($id: ID!) { items(filter: { ownerId: $id }) { edges { node { name owner { id displayName } } } } }',
      { id: user.user.id },
      bearer(viewer.accessToken),
    );
    expect(res.body.errors).toBeUndefined();
    expect(res.body.data!.items.edges.map((e: { node: { owner: unknown } }) => e.node.owner)).toEqual([
      { id: user.user.id, displayName: null },
      { id: user.user.id, displayName: null },
    ]);
    await t.gql(DELETE_USER, { id: user.user.id }, bearer(admin.accessToken));
  });

  it('finishes a deletion that was cut off after the user itself was removed', async () => {
    const user = await userWithData();
    // As if the process died right after the first step of the cascade.
    await db()
      .collection('users')
      .deleteOne({ _id: new mongoose.Types.ObjectId(user.user.id) });
    expect((await leftovers(user.user.id)).sessions).toBeGreaterThan(0);
    expect((await t.gql(DELETE_USER, { id: user.user.id }, bearer(admin.accessToken))).body.data).toEqual({
      deleteUser: true,
    });
    expect(await leftovers(user.user.id)).toEqual(NOTHING);
  });

  type Deletion = (u: Awaited<ReturnType<typeof userWithData>>) => [string, Record<string, unknown>, string];

  /**
   * Runs `deletion` while `write` is fired: six times before it starts, then every few
   * milliseconds until it returns. Gives the deletion's answer, what was left of the user right
   * when it returned, and every write's answer.
   */
  async function race(
    user: Awaited<ReturnType<typeof userWithData>>,
    deletion: Deletion,
    write: (i: number) => Promise<GraphQLResponse>,
  ) {
    const writes = Array.from({ length: 6 }, (_, i) => write(i));
    let returned = false;
    const [query, variables, token] = deletion(user);
    const deleting = t.gql(query, variables, bearer(token)).then(async (res) => {
      returned = true;
      return { res, rightAfter: await leftovers(user.user.id) };
    });
    for (let i = 0; !returned && i < 100; i++) {
      writes.push(write(100 + i));
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    const { res, rightAfter } = await deleting;
    expect(res.body.errors).toBeUndefined();
    return { rightAfter, answers: await Promise.all(writes) };
  }

  describe.each<[string, Deletion]>([
    ['deleteAccount', (u) => [DELETE_ACCOUNT, { p: u.password }, u.accessToken]],
    ['deleteUser', (u) => [DELETE_USER, { id: u.user.id }, admin.accessToken]],
  ])('%s racing writes of the user', (_name, deletion) => {
    it('leaves no item or quota once it returns; item creations racing it are refused with UNAUTHENTICATED', async () => {
      const user = await userWithData();
      const created = await t.gql(
        CREATE_KEY,
        { input: { name: 'writer', scopes: ['ITEMS_WRITE'] } },
        bearer(user.accessToken),
      );
      const key = bearer(created.body.data!.createApiKey.secret as string);
      const { rightAfter, answers } = await race(user, deletion, (i) =>
        t.gql('mutation($n: String!) { createItem(input: { name: $n }) { id } }', { n: `race ${i}` }, key),
      );
      expect(rightAfter).toEqual(NOTHING);
      expect(await leftovers(user.user.id)).toEqual(NOTHING);
      for (const answer of answers) {
        if (answer.body.data?.createItem) continue;
        expect(codes(answer)).toEqual(['UNAUTHENTICATED']);
        expect(answer.status).toBeLessThan(500);
      }
    });

    it('leaves no session, API key, link token, mail or TOTP setup once the sign-ins, key creations, link requests and TOTP setups racing it have answered', async () => {
      const user = await userWithData();
      const session = bearer(user.accessToken);
      const { answers } = await race(user, deletion, (i) =>
        [
          () => t.gql(LOGIN, { input: { email: user.email, password: user.password } }),
          () => t.gql(CREATE_KEY, { input: { name: `k${i}`, scopes: ['ITEMS_READ'] } }, session),
          () => t.gql('mutation { requestEmailVerification }', {}, session),
          () =>
            t.gql(
              'mutation($p: String!) { beginTotpSetup(currentPassword: $p) { secret } }',
              { p: user.password },
              session,
            ),
        ][i % 4]!(),
      );
      expect(await leftovers(user.user.id)).toEqual(NOTHING);
      for (const answer of answers) expect(answer.status).toBeLessThan(500);
    });
  });

  it('never deletes the last active admin (CONFLICT), by itself or by deleteUser, and changes nothing', async () => {
    const users = await t.gql(
      '{ users(first: 100) { edges { node { id role disabled } } } }',
      {},
      bearer(admin.accessToken),
    );
    for (const { node } of users.body.data!.users.edges as Array<{ node: { id: string; role: string } }>)
      if (node.role === 'ADMIN' && node.id !== admin.user.id)
        await t.gql(
          'mutation($id: ID!) { setUserRole(userId: $id, role: USER) { id } }',
          { id: node.id },
          bearer(admin.accessToken),
        );
    expect(codes(await t.gql(DELETE_ACCOUNT, { p: ADMIN_PASSWORD }, bearer(admin.accessToken)))).toEqual(['CONFLICT']);
    expect(codes(await t.gql(DELETE_USER, { id: admin.user.id }, bearer(admin.accessToken)))).toEqual(['CONFLICT']);
    expect((await t.gql(ME, {}, bearer(admin.accessToken))).body.data!.me).toMatchObject({
      role: 'ADMIN',
      disabled: false,
    });
  });
});

describe('deleteAccount with a wrong password', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer({ LOGIN_MAX_ATTEMPTS: '3' });
  });
  afterAll(() => t.stop());

  it('refuses it with BAD_USER_INPUT, deletes nothing, and counts it towards the lockout', async () => {
    const user = await signUp(t);
    for (let i = 0; i < 3; i++) {
      const res = await t.gql(DELETE_ACCOUNT, { p: 'Wrong-Password-99' }, bearer(user.accessToken));
      expect(codes(res)).toEqual(['BAD_USER_INPUT']);
      expect(res.body.errors![0]!.extensions!.field).toBe('currentPassword');
    }
    expect(codes(await t.gql(DELETE_ACCOUNT, { p: user.password }, bearer(user.accessToken)))).toEqual([
      'TOO_MANY_REQUESTS',
    ]);
    expect((await t.gql(ME, {}, bearer(user.accessToken))).body.data!.me).toMatchObject({ id: user.user.id });
    expect(codes(await t.gql(DELETE_ACCOUNT, { p: user.password }))).toEqual(['UNAUTHENTICATED']);
  });
});
