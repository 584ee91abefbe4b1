import { AdminEmailConflictError } from '../../../src/auth/admin-bootstrap';
import { basic, bearer, LOGIN, logIn, ME, REGISTER, signUp, strongPassword, uniqueEmail } from '../../helpers/auth';
import { codes } from '../../helpers/graphql';
import { startMailbox, type Mailbox } from '../../helpers/mailbox';
import { CREATE, UPDATE } from '../../helpers/realtime';
import { startTestServer, type TestServer } from '../../helpers/server';
import { totpCode, withTotp } from '../../helpers/totp';

const CREATE_KEY = 'mutation($input: CreateApiKeyInput!) { createApiKey(input: $input) { apiKey { id } secret } }';
const REQUEST_CHANGE = 'mutation($e: String!, $p: String!) { requestEmailChange(newEmail: $e, currentPassword: $p) }';
const CONFIRM_CHANGE = 'mutation($t: String!) { confirmEmailChange(token: $t) { id email } }';
const REQUEST_RESET = 'mutation($e: String!) { requestPasswordReset(email: $e) }';
const RESET =
  'mutation($t: String!, $p: String!, $c: String) { resetPassword(token: $t, newPassword: $p, totpCode: $c) { accessToken user { role } } }';
const DELETE_USER = 'mutation($id: ID!) { deleteUser(userId: $id) }';

/**
 * Someone registers the operator's address before it becomes ADMIN_EMAIL, and attaches to it
 * what would let them back in after a takeover: an API key, TOTP, a pending email change to a
 * mailbox of theirs.
 */
describe('admin bootstrap when ADMIN_EMAIL was registered by someone else', () => {
  const FIRST_ADMIN = uniqueEmail('first-admin');
  const FIRST_ADMIN_PASSWORD = strongPassword();
  const TARGET = uniqueEmail('operator');
  const OPERATOR_PASSWORD = strongPassword();
  /** The operator's password after the reset in the last steps. */
  const operatorPassword = strongPassword();
  let mailbox: Mailbox;
  let t: TestServer;
  let victimItem: { id: string };
  let squatter: Awaited<ReturnType<typeof signUp>> & { secret: string };
  let key: { apiKey: { id: string }; secret: string };
  const squatterInbox = uniqueEmail('squatter-inbox');

  /** Starts again on the same database, with the same signing key. */
  const restart = async (admin: { email: string; password: string }) => {
    const { mongodbUri, jwt } = t.config;
    await t.server.stop();
    return startTestServer({
      SMTP_URL: mailbox.url,
      MONGODB_URI: mongodbUri!,
      JWT_SECRET: jwt.secret,
      ADMIN_EMAIL: admin.email,
      ADMIN_PASSWORD: admin.password,
    });
  };
  const updateVictimItemWithKey = () =>
    t.gql(UPDATE, { id: victimItem.id, input: { name: 'defaced' } }, bearer(key.secret));

  beforeAll(async () => {
    mailbox = await startMailbox();
    t = await startTestServer({
      SMTP_URL: mailbox.url,
      ADMIN_EMAIL: FIRST_ADMIN,
      ADMIN_PASSWORD: FIRST_ADMIN_PASSWORD,
    });
    const victim = await signUp(t);
    victimItem = (await t.gql(CREATE, { input: { name: 'mine' } }, bearer(victim.accessToken))).body.data!
      .createItem as { id: string };
    const registered = await signUp(t, TARGET);
    const created = await t.gql(
      CREATE_KEY,
      { input: { name: 'backdoor', scopes: ['ITEMS_READ', 'ITEMS_WRITE'] } },
      bearer(registered.accessToken),
    );
    key = created.body.data!.createApiKey as typeof key;
    const change = await t.gql(
      REQUEST_CHANGE,
      { e: squatterInbox, p: registered.password },
      bearer(registered.accessToken),
    );
    expect(change.body.data).toEqual({ requestEmailChange: true });
    squatter = await withTotp(t, registered);
    await mailbox.waitFor((m) => m.to === squatterInbox);
  });
  afterAll(async () => {
    await t.stop();
    await mailbox.stop();
  });

  it('refuses to start, naming the conflicting account and how to resolve it', async () => {
    const { mongodbUri, jwt } = t.config;
    await t.server.stop();
    const start = startTestServer({
      SMTP_URL: mailbox.url,
      MONGODB_URI: mongodbUri!,
      JWT_SECRET: jwt.secret,
      ADMIN_EMAIL: TARGET,
      ADMIN_PASSWORD: OPERATOR_PASSWORD,
    });
    await expect(start).rejects.toBeInstanceOf(AdminEmailConflictError);
    await expect(start).rejects.toThrow(new RegExp(`${TARGET}.*${squatter.user.id}.*deleteUser`, 's'));
    // Nothing was changed by the refused start: the service comes back as it was.
    t = await restart({ email: FIRST_ADMIN, password: FIRST_ADMIN_PASSWORD });
  });

  it('leaves the squatter a plain user: its key cannot act as an admin, ADMIN_PASSWORD does not sign in', async () => {
    expect(codes(await updateVictimItemWithKey())).toEqual(['FORBIDDEN']);
    expect((await t.gql(ME, {}, bearer(key.secret))).body.data!.me).toMatchObject({ role: 'USER' });
    const operatorLogin = await t.gql(LOGIN, { input: { email: TARGET, password: OPERATOR_PASSWORD } });
    expect(codes(operatorLogin)).toEqual(['UNAUTHENTICATED']);
    expect(operatorLogin.body.errors![0]!.extensions!.reason).toBe('BAD_CREDENTIALS');
    expect((await t.gql(ME, {}, basic(key.apiKey.id, key.secret))).body.data!.me).toMatchObject({ role: 'USER' });
  });

  it('once the account is deleted, starts with a fresh admin that nothing of the squatter reaches', async () => {
    const firstAdmin = await logIn(t, FIRST_ADMIN, FIRST_ADMIN_PASSWORD);
    const deleted = await t.gql(DELETE_USER, { id: squatter.user.id }, bearer(firstAdmin.accessToken));
    expect(deleted.body.data).toEqual({ deleteUser: true });
    t = await restart({ email: TARGET, password: OPERATOR_PASSWORD });

    // ADMIN_PASSWORD signs in at once: no second factor of the squatter's is asked for.
    const operator = await logIn(t, TARGET, OPERATOR_PASSWORD);
    expect(operator.user).toMatchObject({ role: 'ADMIN', email: TARGET });
    expect(operator.user.id).not.toBe(squatter.user.id);
    // The squatter's key, sessions, TOTP and pending email change are gone.
    expect((await updateVictimItemWithKey()).status).toBe(401);
    expect((await t.gql(ME, {}, bearer(squatter.accessToken))).status).toBe(401);
    const link = mailbox.linkToken(await mailbox.waitFor((m) => m.to === squatterInbox));
    expect(codes(await t.gql(CONFIRM_CHANGE, { t: link }))).toEqual(['BAD_USER_INPUT']);
    expect((await t.gql(ME, {}, bearer(operator.accessToken))).body.data!.me).toMatchObject({ email: TARGET });

    // A reset link reaches only the operator's address, and the squatter's TOTP code is no use there.
    await t.gql(REQUEST_RESET, { e: TARGET });
    const resetMail = await mailbox.waitFor((m) => m.to === TARGET && /reset/i.test(m.subject));
    const reset = await t.gql(RESET, {
      t: mailbox.linkToken(resetMail),
      p: operatorPassword,
      c: await totpCode(squatter.secret),
    });
    expect(reset.body.data!.resetPassword).toMatchObject({ user: { role: 'ADMIN' } });
  });

  it('keeps ADMIN_EMAIL for an admin: once the admin moved off it, nobody else registers or takes it', async () => {
    const operator = await logIn(t, TARGET, operatorPassword);
    const moved = uniqueEmail('operator-moved');
    await t.gql(REQUEST_CHANGE, { e: moved, p: operatorPassword }, bearer(operator.accessToken));
    const link = mailbox.linkToken(await mailbox.waitFor((m) => m.to === moved));
    expect((await t.gql(CONFIRM_CHANGE, { t: link }, bearer(operator.accessToken))).body.data).toEqual({
      confirmEmailChange: { id: operator.user.id, email: moved },
    });

    // The address is free in the database, yet stays the bootstrap's: a squatter would stop the next start.
    const register = await t.gql(REGISTER, { input: { email: TARGET.toUpperCase(), password: strongPassword() } });
    expect(codes(register)).toEqual(['CONFLICT']);
    const user = await signUp(t);
    const change = await t.gql(REQUEST_CHANGE, { e: TARGET, p: user.password }, bearer(user.accessToken));
    expect(codes(change)).toEqual(['CONFLICT']);
    // An admin may take it back.
    const back = await t.gql(REQUEST_CHANGE, { e: TARGET, p: operatorPassword }, bearer(operator.accessToken));
    expect(back.body.data).toEqual({ requestEmailChange: true });
  });
});
