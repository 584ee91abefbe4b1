import { ApiKeyModel } from '../../../src/apikeys/apikey.model';
import { RateLimitModel } from '../../../src/infra/rate-limit';
import { AuditEventModel, AuditEventType } from '../../../src/audit/audit.model';
import { flushAuditEvents } from '../../../src/audit/audit.service';
import { basic, bearer, logIn, ME, signUp, strongPassword, uniqueEmail } from '../../helpers/auth';
import { codes, type GraphQLResponse } from '../../helpers/graphql';
import { startMailbox, type Mailbox } from '../../helpers/mailbox';
import { CREATE, DELETE, EVENTS, UPDATE, type ItemEventData } from '../../helpers/realtime';
import { startTestServer, type TestServer } from '../../helpers/server';
import { connectWs, openRaw, wsUrl } from '../../helpers/ws';

const KEY_FIELDS = 'id name prefix scopes createdAt expiresAt lastUsedAt';
const CREATE_KEY = `mutation($input: CreateApiKeyInput!) { createApiKey(input: $input) { apiKey { ${KEY_FIELDS} } secret } }`;
const LIST_KEYS = `{ apiKeys { ${KEY_FIELDS} } }`;
const LIST_KEYS_OF = `query($id: ID) { apiKeys(userId: $id) { ${KEY_FIELDS} } }`;
const REVOKE_KEY = 'mutation($id: ID!) { revokeApiKey(id: $id) }';
const ITEMS = '{ items(first: 5) { edges { node { id name } } } }';
const ITEM = 'query($id: ID!) { item(id: $id) { id name } }';
const SET_DISABLED = 'mutation($id: ID!, $d: Boolean!) { setUserDisabled(userId: $id, disabled: $d) { id disabled } }';

/** Far above any one key's use in this file; the rate-limit test fills a window to it. */
const RATE_LIMIT = 50;
const ADMIN_EMAIL = uniqueEmail('admin');
const ADMIN_PASSWORD = strongPassword();

interface Created {
  apiKey: { id: string; name: string; prefix: string; scopes: string[]; expiresAt: string | null };
  secret: string;
}

let t: TestServer;
let admin: { accessToken: string; user: { id: string } };

let mailbox: Mailbox;

beforeAll(async () => {
  mailbox = await startMailbox();
  t = await startTestServer({
    ADMIN_EMAIL,
    ADMIN_PASSWORD,
    API_KEY_RATE_LIMIT: String(RATE_LIMIT),
    SMTP_URL: mailbox.url,
  });
  admin = await logIn(t, ADMIN_EMAIL, ADMIN_PASSWORD);
});
afterAll(async () => {
  await t.stop();
  await mailbox.stop();
});

async function createKey(token: string, input: Record<string, unknown> = {}): Promise<Created> {
  const res = await t.gql(CREATE_KEY, { input: { name: 'ci', scopes: ['ITEMS_READ'], ...input } }, bearer(token));
  if (!res.body.data?.createApiKey) throw new Error(`createApiKey failed: ${JSON.stringify(res.body.errors)}`);
  return res.body.data.createApiKey as Created;
}

const keyBasic = (key: Created) => basic(key.apiKey.id, key.secret);

function expect401(res: GraphQLResponse, scheme: 'Bearer' | 'Basic', reason: string) {
  expect(res.status).toBe(401);
  expect(codes(res)).toEqual(['UNAUTHENTICATED']);
  expect(res.body.errors![0]!.extensions!.reason).toBe(reason);
  expect(res.headers.get('www-authenticate')).toMatch(new RegExp(`^${scheme} `));
}

/** The API_KEY_REVOKED audit event of a key. */
async function revocationOf(key: Created) {
  await flushAuditEvents();
  return AuditEventModel.findOne({ type: AuditEventType.API_KEY_REVOKED, 'details.keyId': key.apiKey.id }).lean();
}

function expectScopeRefusal(res: GraphQLResponse) {
  expect(codes(res)).toEqual(['FORBIDDEN']);
  expect(res.body.errors![0]!.extensions!.reason).toBe('API_KEY_SCOPE');
}

describe('Mutation.createApiKey, Query.apiKeys, Mutation.revokeApiKey', () => {
  it('shows the secret once, with its prefix, and stores only an HMAC of it', async () => {
    const user = await signUp(t);
    const key = await createKey(user.accessToken, { name: ' deploy bot ', scopes: ['ITEMS_READ', 'ITEMS_WRITE'] });
    expect(key.secret).toMatch(/^iak_[A-Za-z0-9_-]{43}$/);
    expect(key.apiKey).toMatchObject({ name: 'deploy bot', scopes: ['ITEMS_READ', 'ITEMS_WRITE'], expiresAt: null });
    expect(key.secret.startsWith(key.apiKey.prefix)).toBe(true);
    expect(key.apiKey.prefix).toMatch(/^iak_.{8}$/);

    const stored = await ApiKeyModel.findById(key.apiKey.id).lean();
    expect(stored!.hash).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(JSON.stringify(stored)).not.toContain(key.secret.slice(4));

    const listed = await t.gql(LIST_KEYS, {}, bearer(user.accessToken));
    expect(listed.body.data!.apiKeys).toEqual([expect.objectContaining({ id: key.apiKey.id, lastUsedAt: null })]);
    expect(JSON.stringify(listed.body)).not.toContain(key.secret);
  });

  it('records API_KEY_CREATED and API_KEY_REVOKED, and a revoked key leaves the list', async () => {
    const user = await signUp(t);
    const key = await createKey(user.accessToken);
    const revoked = await t.gql(REVOKE_KEY, { id: key.apiKey.id }, bearer(user.accessToken));
    expect(revoked.body.data!.revokeApiKey).toBe(true);
    expect((await t.gql(LIST_KEYS, {}, bearer(user.accessToken))).body.data!.apiKeys).toEqual([]);
    await flushAuditEvents();
    const types = (await AuditEventModel.find({ userId: user.user.id }).lean()).map((e) => e.type);
    expect(types).toEqual(expect.arrayContaining(['API_KEY_CREATED', 'API_KEY_REVOKED']));
    // Again, or another user's key, or an unknown id: NOT_FOUND.
    expect(codes(await t.gql(REVOKE_KEY, { id: key.apiKey.id }, bearer(user.accessToken)))).toEqual(['NOT_FOUND']);
    const other = await createKey((await signUp(t)).accessToken);
    expect(codes(await t.gql(REVOKE_KEY, { id: other.apiKey.id }, bearer(user.accessToken)))).toEqual(['NOT_FOUND']);
    expect(codes(await t.gql(REVOKE_KEY, { id: 'nope' }, bearer(user.accessToken)))).toEqual(['NOT_FOUND']);
  });

  it.each([
    ['an empty name', { name: '  ' }, 'name'],
    ['a name over 100 characters', { name: 'x'.repeat(101) }, 'name'],
    ['no scopes', { scopes: [] }, 'scopes'],
    ['expiry of 0 days', { expiresInDays: 0 }, 'expiresInDays'],
    ['expiry of 366 days', { expiresInDays: 366 }, 'expiresInDays'],
  ])('refuses %s with BAD_USER_INPUT', async (_label, input, field) => {
    const user = await signUp(t);
    const res = await t.gql(
      CREATE_KEY,
      { input: { name: 'k', scopes: ['ITEMS_READ'], ...input } },
      bearer(user.accessToken),
    );
    expect(codes(res)).toEqual(['BAD_USER_INPUT']);
    expect(res.body.errors![0]!.extensions!.field).toBe(field);
  });

  it('sets expiresAt from expiresInDays', async () => {
    const user = await signUp(t);
    const key = await createKey(user.accessToken, { expiresInDays: 30 });
    const days = (Date.parse(key.apiKey.expiresAt!) - Date.now()) / 86_400_000;
    expect(days).toBeGreaterThan(29.9);
    expect(days).toBeLessThanOrEqual(30);
  });

  it('keeps at most 20 active keys per user, also under parallel creations; revoking or expiry frees a slot', async () => {
    const user = await signUp(t);
    const results = await Promise.all(
      Array.from({ length: 25 }, (_, i) =>
        t.gql(CREATE_KEY, { input: { name: `k${i}`, scopes: ['ITEMS_READ'] } }, bearer(user.accessToken)),
      ),
    );
    const created = results.filter((r) => r.body.data?.createApiKey);
    expect(created).toHaveLength(20);
    expect(results.filter((r) => codes(r)[0] === 'CONFLICT')).toHaveLength(5);
    expect(await ApiKeyModel.countDocuments({ ownerId: user.user.id })).toBe(20);

    const first = created[0]!.body.data!.createApiKey as Created;
    await t.gql(REVOKE_KEY, { id: first.apiKey.id }, bearer(user.accessToken));
    await createKey(user.accessToken);
    expect(
      codes(await t.gql(CREATE_KEY, { input: { name: 'x', scopes: ['ITEMS_READ'] } }, bearer(user.accessToken))),
    ).toEqual(['CONFLICT']);

    const second = created[1]!.body.data!.createApiKey as Created;
    await ApiKeyModel.updateOne({ _id: second.apiKey.id }, { $set: { expiresAt: new Date(Date.now() - 1000) } });
    await createKey(user.accessToken);
  });
});

describe("admins and other users' keys", () => {
  it("lets an admin list any user's keys with apiKeys(userId:), and only an admin", async () => {
    const [owner, other] = await Promise.all([signUp(t), signUp(t)]);
    const key = await createKey(owner.accessToken, { name: 'deploy' });
    const listed = await t.gql(LIST_KEYS_OF, { id: owner.user.id }, bearer(admin.accessToken));
    expect(listed.body.data!.apiKeys).toEqual([expect.objectContaining({ id: key.apiKey.id, name: 'deploy' })]);
    const mine = await t.gql(LIST_KEYS_OF, { id: owner.user.id }, bearer(owner.accessToken));
    expect(mine.body.data!.apiKeys).toHaveLength(1);
    const refused = await t.gql(LIST_KEYS_OF, { id: owner.user.id }, bearer(other.accessToken));
    expect(codes(refused)).toEqual(['FORBIDDEN']);
    expect(refused.body.errors![0]!.extensions!.reason).toBe('ADMIN_ONLY');
    expect(codes(await t.gql(LIST_KEYS_OF, { id: 'nope' }, bearer(admin.accessToken)))).toEqual(['BAD_USER_INPUT']);
  });

  it("lets an admin revoke any user's key, audited with the admin as actor; others get NOT_FOUND", async () => {
    const [owner, other] = await Promise.all([signUp(t), signUp(t)]);
    const key = await createKey(owner.accessToken);
    expect(codes(await t.gql(REVOKE_KEY, { id: key.apiKey.id }, bearer(other.accessToken)))).toEqual(['NOT_FOUND']);
    expect((await t.gql(ME, {}, bearer(key.secret))).status).toBe(200);
    const revoked = await t.gql(REVOKE_KEY, { id: key.apiKey.id }, bearer(admin.accessToken));
    expect(revoked.body.data).toEqual({ revokeApiKey: true });
    expect401(await t.gql(ME, {}, bearer(key.secret)), 'Bearer', 'SESSION_REVOKED');
    expect(codes(await t.gql(REVOKE_KEY, { id: key.apiKey.id }, bearer(admin.accessToken)))).toEqual(['NOT_FOUND']);
    expect(await revocationOf(key)).toMatchObject({ userId: owner.user.id, actorId: admin.user.id });
  });
});

describe('authenticating with an API key', () => {
  it('acts as its owner with Bearer <secret> and with Basic <key id>:<secret>', async () => {
    const user = await signUp(t);
    const key = await createKey(user.accessToken);
    for (const headers of [bearer(key.secret), keyBasic(key)]) {
      const me = await t.gql(ME, {}, headers);
      expect(me.status).toBe(200);
      expect(me.body.data!.me).toMatchObject({ id: user.user.id, email: user.email });
    }
  });

  it('answers 401 with WWW-Authenticate for an unknown, wrong, revoked or expired key', async () => {
    const user = await signUp(t);
    const key = await createKey(user.accessToken);
    const unknown = `iak_${'A'.repeat(43)}`;
    expect401(await t.gql(ME, {}, bearer(unknown)), 'Bearer', 'TOKEN_INVALID');
    expect401(await t.gql(ME, {}, basic(key.apiKey.id, unknown)), 'Basic', 'TOKEN_INVALID');
    expect401(await t.gql(ME, {}, basic('0123456789abcdef01234567', key.secret)), 'Basic', 'TOKEN_INVALID');

    await ApiKeyModel.updateOne({ _id: key.apiKey.id }, { $set: { expiresAt: new Date(Date.now() - 1000) } });
    expect401(await t.gql(ME, {}, bearer(key.secret)), 'Bearer', 'TOKEN_EXPIRED');
    expect401(await t.gql(ME, {}, keyBasic(key)), 'Basic', 'TOKEN_EXPIRED');

    const revoked = await createKey(user.accessToken);
    expect((await t.gql(ME, {}, bearer(revoked.secret))).status).toBe(200);
    await t.gql(REVOKE_KEY, { id: revoked.apiKey.id }, bearer(user.accessToken));
    expect401(await t.gql(ME, {}, bearer(revoked.secret)), 'Bearer', 'SESSION_REVOKED');
    expect401(await t.gql(ME, {}, keyBasic(revoked)), 'Basic', 'SESSION_REVOKED');
  });

  it('is revoked when the owner is disabled (re-enabling revives none), and is deleted with the account', async () => {
    const user = await signUp(t);
    const key = await createKey(user.accessToken);
    expect((await t.gql(ME, {}, bearer(key.secret))).status).toBe(200);
    await t.gql(SET_DISABLED, { id: user.user.id, d: true }, bearer(admin.accessToken));
    expect401(await t.gql(ME, {}, bearer(key.secret)), 'Bearer', 'SESSION_REVOKED');
    expect401(await t.gql(ME, {}, keyBasic(key)), 'Basic', 'SESSION_REVOKED');
    await t.gql(SET_DISABLED, { id: user.user.id, d: false }, bearer(admin.accessToken));
    expect401(await t.gql(ME, {}, bearer(key.secret)), 'Bearer', 'SESSION_REVOKED');
    expect401(await t.gql(ME, {}, keyBasic(key)), 'Basic', 'SESSION_REVOKED');
    const signedIn = await logIn(t, user.email, user.password);
    expect((await t.gql(LIST_KEYS, {}, bearer(signedIn.accessToken))).body.data!.apiKeys).toEqual([]);
    expect(await revocationOf(key)).toMatchObject({
      userId: user.user.id,
      actorId: admin.user.id,
      details: { reason: 'USER_DISABLED' },
    });
    const fresh = await createKey(signedIn.accessToken);

    const del = await t.gql(
      'mutation($p: String!) { deleteAccount(currentPassword: $p) }',
      { p: user.password },
      bearer((await logIn(t, user.email, user.password)).accessToken),
    );
    expect(del.body.data!.deleteAccount).toBe(true);
    expect(await ApiKeyModel.countDocuments({ ownerId: user.user.id })).toBe(0);
    expect401(await t.gql(ME, {}, bearer(fresh.secret)), 'Bearer', 'TOKEN_INVALID');
  });

  it('is revoked by resetPassword, the recovery path of a compromised account, as the reset mail says', async () => {
    const user = await signUp(t);
    const key = await createKey(user.accessToken);
    await t.gql('mutation($e: String!) { requestPasswordReset(email: $e) }', { e: user.email });
    const mail = await mailbox.waitFor((m) => m.to === user.email && /reset/i.test(m.subject));
    expect(mail.text).toMatch(/API key/);
    const reset = await t.gql(
      'mutation($t: String!, $p: String!) { resetPassword(token: $t, newPassword: $p) { accessToken } }',
      { t: mailbox.linkToken(mail), p: strongPassword() },
    );
    expect(codes(reset)).toEqual([]);
    expect401(await t.gql(ME, {}, bearer(key.secret)), 'Bearer', 'SESSION_REVOKED');
    expect401(await t.gql(ME, {}, keyBasic(key)), 'Basic', 'SESSION_REVOKED');
    const token = reset.body.data!.resetPassword.accessToken as string;
    expect((await t.gql(LIST_KEYS, {}, bearer(token))).body.data!.apiKeys).toEqual([]);
    expect(await revocationOf(key)).toMatchObject({
      userId: user.user.id,
      actorId: user.user.id,
      details: { reason: 'PASSWORD_RESET' },
    });
  });

  it('leaves no active key created from a session that a resetPassword racing it ended', async () => {
    const user = await signUp(t);
    await t.gql('mutation($e: String!) { requestPasswordReset(email: $e) }', { e: user.email });
    const mail = await mailbox.waitFor((m) => m.to === user.email && /reset/i.test(m.subject));
    const stolen = bearer(user.accessToken);
    const create = (i: number) => t.gql(CREATE_KEY, { input: { name: `k${i}`, scopes: ['ITEMS_READ'] } }, stolen);
    const creations = Array.from({ length: 4 }, (_, i) => create(i));
    let done = false;
    const reset = t
      .gql('mutation($t: String!, $p: String!) { resetPassword(token: $t, newPassword: $p) { accessToken } }', {
        t: mailbox.linkToken(mail),
        p: strongPassword(),
      })
      .finally(() => (done = true));
    for (let i = 0; !done && i < 100; i++) {
      creations.push(create(10 + i));
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    expect(codes(await reset)).toEqual([]);
    for (const answer of await Promise.all(creations)) expect(answer.status).toBeLessThan(500);
    expect(await ApiKeyModel.countDocuments({ ownerId: user.user.id, revokedAt: null })).toBe(0);
  });

  it('disabling an already disabled user, or re-enabling it, finishes revoking its keys (a disable cut off halfway)', async () => {
    const user = await signUp(t);
    const key = await createKey(user.accessToken);
    await t.gql(SET_DISABLED, { id: user.user.id, d: true }, bearer(admin.accessToken));
    // As if the first disable had stopped before its key revocation.
    await ApiKeyModel.updateOne({ _id: key.apiKey.id }, { $set: { revokedAt: null, slot: '0' } });
    await t.gql(SET_DISABLED, { id: user.user.id, d: true }, bearer(admin.accessToken));
    expect(await ApiKeyModel.exists({ _id: key.apiKey.id, revokedAt: null })).toBeNull();
    // Cut off again, and this time the admin re-enables at once: that runs the sweep first.
    await ApiKeyModel.updateOne({ _id: key.apiKey.id }, { $set: { revokedAt: null, slot: '0' } });
    await t.gql(SET_DISABLED, { id: user.user.id, d: false }, bearer(admin.accessToken));
    expect401(await t.gql(ME, {}, bearer(key.secret)), 'Bearer', 'SESSION_REVOKED');
  });

  it('keeps working after changePassword and logoutAll', async () => {
    const user = await signUp(t);
    const key = await createKey(user.accessToken);
    const changed = await t.gql(
      'mutation($c: String!, $n: String!) { changePassword(currentPassword: $c, newPassword: $n) { accessToken } }',
      { c: user.password, n: strongPassword() },
      bearer(user.accessToken),
    );
    expect(codes(changed)).toEqual([]);
    const token = changed.body.data!.changePassword.accessToken as string;
    expect((await t.gql('mutation { logoutAll }', {}, bearer(token))).body.data!.logoutAll).toBe(true);
    expect((await t.gql(ME, {}, bearer(token))).status).toBe(401);
    const me = await t.gql(ME, {}, keyBasic(key));
    expect(me.status).toBe(200);
    expect(me.body.data!.me.id).toBe(user.user.id);
  });

  it('writes lastUsedAt on use, at most once a minute', async () => {
    const user = await signUp(t);
    const key = await createKey(user.accessToken);
    await t.gql(ME, {}, bearer(key.secret));
    const first = (await ApiKeyModel.findById(key.apiKey.id).lean())!.lastUsedAt!;
    expect(Date.now() - first.getTime()).toBeLessThan(10_000);
    await new Promise((r) => setTimeout(r, 20));
    await Promise.all([t.gql(ME, {}, bearer(key.secret)), t.gql(ME, {}, keyBasic(key))]);
    expect((await ApiKeyModel.findById(key.apiKey.id).lean())!.lastUsedAt).toEqual(first);

    const old = new Date(Date.now() - 61_000);
    await ApiKeyModel.updateOne({ _id: key.apiKey.id }, { $set: { lastUsedAt: old } });
    await t.gql(ME, {}, bearer(key.secret));
    const after = (await ApiKeyModel.findById(key.apiKey.id).lean())!.lastUsedAt!;
    expect(after.getTime()).toBeGreaterThan(old.getTime() + 60_000);
    const listed = await t.gql(LIST_KEYS, {}, bearer(user.accessToken));
    expect(Date.parse(listed.body.data!.apiKeys[0].lastUsedAt)).toBe(after.getTime());
  });
});

describe('API key scopes', () => {
  const item = async (token: string) =>
    (await t.gql(CREATE, { input: { name: 'scoped' } }, bearer(token))).body.data!.createItem.id as string;

  it('ITEMS_READ allows me, item and items, and refuses writes', async () => {
    const user = await signUp(t);
    const id = await item(user.accessToken);
    const key = await createKey(user.accessToken, { scopes: ['ITEMS_READ'] });
    const auth = bearer(key.secret);
    expect(codes(await t.gql(ME, {}, auth))).toEqual([]);
    expect((await t.gql(ITEM, { id }, auth)).body.data!.item.id).toBe(id);
    expect(codes(await t.gql(ITEMS, {}, auth))).toEqual([]);
    expectScopeRefusal(await t.gql(CREATE, { input: { name: 'no' } }, auth));
    expectScopeRefusal(await t.gql(UPDATE, { id, input: { name: 'no' } }, auth));
    expectScopeRefusal(await t.gql(DELETE, { id }, auth));
  });

  it('ITEMS_WRITE allows createItem, updateItem and deleteItem, and refuses reads', async () => {
    const user = await signUp(t);
    const key = await createKey(user.accessToken, { scopes: ['ITEMS_WRITE'] });
    const auth = keyBasic(key);
    const created = await t.gql(CREATE, { input: { name: 'by key' } }, auth);
    const id = created.body.data!.createItem.id as string;
    expect(codes(await t.gql(UPDATE, { id, input: { name: 'renamed' } }, auth))).toEqual([]);
    expect((await t.gql(DELETE, { id }, auth)).body.data!.deleteItem).toBe(id);
    expectScopeRefusal(await t.gql(ME, {}, auth));
    expectScopeRefusal(await t.gql(ITEMS, {}, auth));
    expectScopeRefusal(await t.gql(ITEM, { id }, auth));
  });

  it.each([
    [
      'login',
      'mutation($i: LoginInput!) { login(input: $i) { accessToken } }',
      { i: { email: 'a@b.c', password: 'x' } },
    ],
    [
      'register',
      'mutation($i: RegisterInput!) { register(input: $i) { accessToken } }',
      { i: { email: 'a@b.c', password: 'x' } },
    ],
    ['sessions', '{ sessions { id } }', {}],
    ['logoutAll', 'mutation { logoutAll }', {}],
    ['changePassword', 'mutation { changePassword(currentPassword: "x", newPassword: "y") { accessToken } }', {}],
    ['updateProfile', 'mutation { updateProfile(input: { displayName: "k" }) { id } }', {}],
    ['deleteAccount', 'mutation { deleteAccount(currentPassword: "x") }', {}],
    ['requestEmailVerification', 'mutation { requestEmailVerification }', {}],
    ['apiKeys', LIST_KEYS, {}],
    ['createApiKey', CREATE_KEY, { input: { name: 'child', scopes: ['ITEMS_READ'] } }],
    ['revokeApiKey', REVOKE_KEY, { id: '0123456789abcdef01234567' }],
    ['users (admin)', '{ users { totalCount } }', {}],
    [
      'setUserRole (admin)',
      'mutation($id: ID!) { setUserRole(userId: $id, role: USER) { id } }',
      { id: '0123456789abcdef01234567' },
    ],
    ['auditEvents (admin)', '{ auditEvents { edges { cursor } } }', {}],
    ['beginTotpSetup', 'mutation { beginTotpSetup(currentPassword: "x") { secret } }', {}],
    ['confirmTotpSetup', 'mutation { confirmTotpSetup(code: "123456") }', {}],
    ['disableTotp', 'mutation { disableTotp(currentPassword: "x", code: "123456") }', {}],
    ['regenerateRecoveryCodes', 'mutation { regenerateRecoveryCodes(currentPassword: "x", code: "123456") }', {}],
    [
      'resetUserTotp (admin)',
      'mutation($id: ID!) { resetUserTotp(userId: $id) { id } }',
      { id: '0123456789abcdef01234567' },
    ],
  ])('refuses %s to a key with every scope, even an admin’s, with API_KEY_SCOPE', async (_label, query, variables) => {
    const key = await createKey(admin.accessToken, { name: 'admin key', scopes: ['ITEMS_READ', 'ITEMS_WRITE'] });
    for (const headers of [bearer(key.secret), keyBasic(key)]) {
      const res = await t.gql(query, variables, headers);
      expectScopeRefusal(res);
      expect(res.body.data ?? null).toBeNull();
    }
    await t.gql(REVOKE_KEY, { id: key.apiKey.id }, bearer(admin.accessToken));
  });

  it('lets a key with ITEMS_READ watch itemEvents over a WebSocket, and closes it when the key is revoked', async () => {
    const user = await signUp(t);
    const key = await createKey(user.accessToken, { scopes: ['ITEMS_READ'] });
    const ws = await connectWs(t.url, `Bearer ${key.secret}`);
    ws.subscribe('1', EVENTS);
    ws.send({ type: 'ping' });
    await ws.next('pong');
    const id = await item(user.accessToken);
    const event = await ws.event<ItemEventData>('1');
    expect(event.data!.itemEvents).toMatchObject({ type: 'CREATED', id });

    await t.gql(REVOKE_KEY, { id: key.apiKey.id }, bearer(user.accessToken));
    expect(await ws.closed).toEqual({ code: 4401, reason: 'SESSION_REVOKED' });
  });

  it('closes a key-held WebSocket when the owner is disabled, and when the key expires', async () => {
    const user = await signUp(t);
    const key = await createKey(user.accessToken);
    const ws = await connectWs(t.url, `Bearer ${key.secret}`);
    await t.gql(SET_DISABLED, { id: user.user.id, d: true }, bearer(admin.accessToken));
    expect(await ws.closed).toEqual({ code: 4401, reason: 'SESSION_REVOKED' });
    await t.gql(SET_DISABLED, { id: user.user.id, d: false }, bearer(admin.accessToken));
    const expiring = await createKey((await logIn(t, user.email, user.password)).accessToken);

    await ApiKeyModel.updateOne({ _id: expiring.apiKey.id }, { $set: { expiresAt: new Date(Date.now() + 1500) } });
    const held = await connectWs(t.url, `Bearer ${expiring.secret}`);
    expect(await held.closed).toEqual({ code: 4401, reason: 'TOKEN_EXPIRED' });
  });

  it('refuses itemEvents to a key without ITEMS_READ, and a revoked key at connection_init', async () => {
    const user = await signUp(t);
    const key = await createKey(user.accessToken, { scopes: ['ITEMS_WRITE'] });
    const ws = await connectWs(t.url, `Basic ${Buffer.from(`${key.apiKey.id}:${key.secret}`).toString('base64')}`);
    ws.subscribe('1', EVENTS);
    const refused = await ws.event('1');
    expect((refused.errors as Array<{ extensions: { reason: string } }>)[0]!.extensions.reason).toBe('API_KEY_SCOPE');
    ws.close();

    await t.gql(REVOKE_KEY, { id: key.apiKey.id }, bearer(user.accessToken));
    const raw = await openRaw(wsUrl(t.url));
    expect(await raw.init({ authorization: `Bearer ${key.secret}` })).toEqual({
      code: 4401,
      reason: 'SESSION_REVOKED',
    });
  });
});

describe('API key rate limit', () => {
  it('counts requests per key in its own window (API_KEY_RATE_LIMIT): past it 429 with Retry-After, other credentials unaffected', async () => {
    const user = await signUp(t);
    const a = await createKey(user.accessToken);
    const b = await createKey(user.accessToken);
    expect((await t.gql(ME, {}, bearer(a.secret))).status).toBe(200);
    expect((await RateLimitModel.findById(`apiKey:${a.apiKey.id}`).lean())!.count).toBe(1);
    // The window as it stands after API_KEY_RATE_LIMIT requests.
    await RateLimitModel.updateOne({ _id: `apiKey:${a.apiKey.id}` }, { $set: { count: RATE_LIMIT } });
    const refused = await t.gql(ME, {}, keyBasic(a));
    expect(refused.status).toBe(429);
    expect(codes(refused)).toEqual(['TOO_MANY_REQUESTS']);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
    expect((await t.gql(ME, {}, bearer(b.secret))).status).toBe(200);
    expect((await t.gql(ME, {}, bearer(user.accessToken))).status).toBe(200);
  });
});
