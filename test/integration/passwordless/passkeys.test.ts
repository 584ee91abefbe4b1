import type {
  PublicKeyCredentialCreationOptionsJSON,
  PublicKeyCredentialRequestOptionsJSON,
} from '@simplewebauthn/server';
import { AuditEventModel } from '../../../src/audit/audit.model';
import { flushAuditEvents } from '../../../src/audit/audit.service';
import { PasskeyModel } from '../../../src/passwordless/passkey.model';
import { bearer, ME, signUp, strongPassword, uniqueEmail, logIn } from '../../helpers/auth';
import { codes, type GraphQLResponse } from '../../helpers/graphql';
import { startTestServer, type TestServer } from '../../helpers/server';
import { SoftwareAuthenticator } from '../../helpers/webauthn';

// A frontend on app.example.com and the API on api.example.com, sharing the RP ID example.com.
const APP = 'https://app.example.com';
const ENV = { PUBLIC_URL: 'https://api.example.com', CORS_ORIGINS: APP, WEBAUTHN_RP_ID: 'example.com' };
const ADMIN_EMAIL = uniqueEmail('admin');
const ADMIN_PASSWORD = strongPassword();

const REAUTH = 'mutation($i: ReauthenticateInput!) { reauthenticate(input: $i) { expiresAt } }';
const BEGIN_REG = 'mutation { beginPasskeyRegistration }';
const FINISH_REG =
  'mutation($r: JSONObject!, $n: String) { finishPasskeyRegistration(response: $r, name: $n) { id name createdAt lastUsedAt backedUp } }';
const BEGIN_SIGN_IN = 'mutation { beginPasskeySignIn }';
const FINISH_SIGN_IN =
  'mutation($r: JSONObject!) { finishPasskeySignIn(response: $r) { accessToken refreshToken user { id email } } }';
const PASSKEYS = '{ passkeys { id name createdAt lastUsedAt backedUp } }';

let t: TestServer;
beforeAll(async () => {
  t = await startTestServer({ ...ENV, ADMIN_EMAIL, ADMIN_PASSWORD });
});
afterAll(() => t.stop());

type User = Awaited<ReturnType<typeof signUp>>;

function reason(res: GraphQLResponse): unknown {
  return res.body.errors?.[0]?.extensions?.reason;
}

/** A new user whose session is inside its re-authentication window (password proof). */
async function reauthenticatedUser(): Promise<User> {
  const user = await signUp(t);
  const res = await t.gql(REAUTH, { i: { password: user.password } }, bearer(user.accessToken));
  expect(res.body.errors).toBeUndefined();
  return user;
}

async function registrationOptions(user: User): Promise<PublicKeyCredentialCreationOptionsJSON> {
  const res = await t.gql(BEGIN_REG, undefined, bearer(user.accessToken));
  if (!res.body.data) throw new Error(JSON.stringify(res.body.errors));
  return res.body.data.beginPasskeyRegistration as PublicKeyCredentialCreationOptionsJSON;
}

/** Registers a passkey for the user with the authenticator; answers the created Passkey. */
async function register(user: User, authenticator: SoftwareAuthenticator, name?: string) {
  const response = authenticator.create(await registrationOptions(user));
  const res = await t.gql(FINISH_REG, { r: response, n: name }, bearer(user.accessToken));
  if (!res.body.data) throw new Error(JSON.stringify(res.body.errors));
  return res.body.data.finishPasskeyRegistration as { id: string; name: string; backedUp: boolean };
}

async function signInOptions() {
  const res = await t.gql(BEGIN_SIGN_IN);
  return res.body.data!.beginPasskeySignIn as PublicKeyCredentialRequestOptionsJSON;
}

async function auditTypes(userId: string): Promise<string[]> {
  await flushAuditEvents();
  return (await AuditEventModel.find({ userId }, { type: 1 }).lean<{ type: string }[]>()).map((e) => e.type);
}

describe('registering a passkey', () => {
  it('hands out creation options for a discoverable, user-verified passkey and stores the response', async () => {
    const user = await reauthenticatedUser();
    const options = await registrationOptions(user);
    expect(options.rp).toEqual({ id: 'example.com', name: 'GraphQL API' });
    expect(Buffer.from(options.challenge, 'base64url')).toHaveLength(32);
    expect(options.attestation).toBe('none');
    expect(options.authenticatorSelection).toMatchObject({ residentKey: 'required', userVerification: 'required' });
    expect(options.pubKeyCredParams.map((p) => p.alg)).toEqual([-8, -7, -257]);
    // A random user handle: never the user's id or email.
    expect(Buffer.from(options.user.id, 'base64url')).toHaveLength(32);
    expect(Buffer.from(options.user.id, 'base64url').toString('utf8')).not.toContain(user.user.id);
    expect(options.user.name).toBe(user.email);
    expect(options.excludeCredentials).toEqual([]);

    const authenticator = new SoftwareAuthenticator(APP, { backedUp: true });
    const res = await t.gql(FINISH_REG, { r: authenticator.create(options), n: 'Laptop' }, bearer(user.accessToken));
    expect(res.body.data!.finishPasskeyRegistration).toMatchObject({
      name: 'Laptop',
      backedUp: true,
      lastUsedAt: null,
    });
    const listed = await t.gql(PASSKEYS, undefined, bearer(user.accessToken));
    expect(listed.body.data!.passkeys).toEqual([res.body.data!.finishPasskeyRegistration]);
    expect(await auditTypes(user.user.id)).toContain('PASSKEY_ADDED');

    // The next registration excludes the passkey the user already has, and uses the same user handle.
    const again = await registrationOptions(user);
    expect(again.excludeCredentials).toEqual([
      { id: authenticator.credentials[0]!.id.toString('base64url'), type: 'public-key', transports: ['internal'] },
    ]);
    expect(again.user.id).toBe(options.user.id);
  });

  it('needs the re-authentication window of this session', async () => {
    const user = await signUp(t);
    const res = await t.gql(BEGIN_REG, undefined, bearer(user.accessToken));
    expect(codes(res)).toEqual(['FORBIDDEN']);
    expect(reason(res)).toBe('REAUTHENTICATION_REQUIRED');
    expect(codes(await t.gql(BEGIN_REG))).toEqual(['UNAUTHENTICATED']);
  });

  it.each(['ES256', 'EdDSA', 'RS256'] as const)('accepts %s passkeys, which then sign in', async (algorithm) => {
    const user = await reauthenticatedUser();
    const authenticator = new SoftwareAuthenticator(APP);
    const response = authenticator.create(await registrationOptions(user), { algorithm });
    const res = await t.gql(FINISH_REG, { r: response }, bearer(user.accessToken));
    expect(res.body.data!.finishPasskeyRegistration.name).toMatch(/^Passkey \(\d{4}-\d{2}-\d{2}\)$/);
    const signedIn = await t.gql(FINISH_SIGN_IN, { r: authenticator.get(await signInOptions()) });
    expect(signedIn.body.data!.finishPasskeySignIn.user.id).toBe(user.user.id);
  });

  it('refuses a response from another origin, for another RP ID, or without user verification', async () => {
    const user = await reauthenticatedUser();
    const authenticator = new SoftwareAuthenticator(APP);
    for (const ceremony of [{ origin: 'https://evil.example.net' }, { rpId: 'evil.com' }, { userVerified: false }]) {
      const res = await t.gql(
        FINISH_REG,
        { r: authenticator.create(await registrationOptions(user), ceremony) },
        bearer(user.accessToken),
      );
      expect(codes(res)).toEqual(['BAD_USER_INPUT']);
      expect(res.body.errors![0]!.extensions!.field).toBe('response');
    }
    expect(await PasskeyModel.countDocuments({ userId: user.user.id })).toBe(0);
  });

  it("refuses a replayed challenge and another user's challenge", async () => {
    const user = await reauthenticatedUser();
    const other = await reauthenticatedUser();
    const options = await registrationOptions(user);
    const authenticator = new SoftwareAuthenticator(APP);
    const stolen = await t.gql(FINISH_REG, { r: authenticator.create(options) }, bearer(other.accessToken));
    expect(codes(stolen)).toEqual(['BAD_USER_INPUT']);
    const response = authenticator.create(options);
    expect((await t.gql(FINISH_REG, { r: response }, bearer(user.accessToken))).body.errors).toBeUndefined();
    expect(codes(await t.gql(FINISH_REG, { r: response }, bearer(user.accessToken)))).toEqual(['BAD_USER_INPUT']);
  });

  it('lets exactly one of two parallel finishes with one challenge through', async () => {
    const user = await reauthenticatedUser();
    const options = await registrationOptions(user);
    const authenticator = new SoftwareAuthenticator(APP);
    const responses = [authenticator.create(options), authenticator.create(options)];
    const results = await Promise.all(responses.map((r) => t.gql(FINISH_REG, { r }, bearer(user.accessToken))));
    expect(results.filter((r) => r.body.data?.finishPasskeyRegistration).length).toBe(1);
    expect(await PasskeyModel.countDocuments({ userId: user.user.id })).toBe(1);
  });

  it('keeps at most 20 passkeys per user (CONFLICT)', async () => {
    const user = await reauthenticatedUser();
    const authenticator = new SoftwareAuthenticator(APP);
    for (let i = 0; i < 20; i += 1) await register(user, authenticator, `Key ${i}`);
    const res = await t.gql(BEGIN_REG, undefined, bearer(user.accessToken));
    expect(codes(res)).toEqual(['CONFLICT']);
  }, 60_000);

  it('refuses malformed input with BAD_USER_INPUT, never a 500', async () => {
    const user = await reauthenticatedUser();
    for (const r of [{}, { id: 'x', rawId: 'x', type: 'public-key', response: { clientDataJSON: '!!' } }]) {
      const res = await t.gql(FINISH_REG, { r }, bearer(user.accessToken));
      expect(res.status).toBe(200);
      expect(codes(res)).toEqual(['BAD_USER_INPUT']);
    }
  });
});

describe('signing in with a passkey', () => {
  it('asks for nothing about the account and signs in with the response alone', async () => {
    const user = await reauthenticatedUser();
    const authenticator = new SoftwareAuthenticator(APP);
    await register(user, authenticator);
    const options = await signInOptions();
    expect(options.rpId).toBe('example.com');
    expect(options.allowCredentials ?? []).toEqual([]);
    expect(options).toMatchObject({ userVerification: 'required' });
    const res = await t.gql(FINISH_SIGN_IN, { r: authenticator.get(options) });
    const { accessToken, user: signedIn } = res.body.data!.finishPasskeySignIn;
    expect(signedIn).toEqual({ id: user.user.id, email: user.email });
    expect((await t.gql(ME, undefined, bearer(accessToken))).body.data!.me.email).toBe(user.email);
    const listed = await t.gql(PASSKEYS, undefined, bearer(accessToken));
    expect(listed.body.data!.passkeys[0].lastUsedAt).not.toBeNull();
    expect(await auditTypes(user.user.id)).toContain('LOGIN_SUCCEEDED');
  });

  it('refuses another origin, another RP ID, no user verification, an unknown passkey and a replay', async () => {
    const user = await reauthenticatedUser();
    const authenticator = new SoftwareAuthenticator(APP);
    await register(user, authenticator);
    for (const ceremony of [{ origin: 'https://evil.example.net' }, { rpId: 'evil.com' }, { userVerified: false }]) {
      const res = await t.gql(FINISH_SIGN_IN, { r: authenticator.get(await signInOptions(), ceremony) });
      expect(codes(res)).toEqual(['UNAUTHENTICATED']);
      expect(reason(res)).toBe('PASSKEY_INVALID');
    }
    // The user handle names the passkey's user: it must be there, and be that user's.
    for (const userHandle of [null, Buffer.alloc(32, 7).toString('base64url')]) {
      const res = await t.gql(FINISH_SIGN_IN, { r: authenticator.get(await signInOptions(), { userHandle }) });
      expect(reason(res)).toBe('PASSKEY_INVALID');
    }
    const stranger = new SoftwareAuthenticator(APP);
    stranger.create(await registrationOptions(user));
    expect(reason(await t.gql(FINISH_SIGN_IN, { r: stranger.get(await signInOptions()) }))).toBe('PASSKEY_INVALID');

    const response = authenticator.get(await signInOptions());
    expect((await t.gql(FINISH_SIGN_IN, { r: response })).body.errors).toBeUndefined();
    expect(reason(await t.gql(FINISH_SIGN_IN, { r: response }))).toBe('PASSKEY_INVALID');
    expect(reason(await t.gql(FINISH_SIGN_IN, { r: { nonsense: true } }))).toBe('PASSKEY_INVALID');
  });

  it('lets exactly one of two parallel finishes with one challenge through', async () => {
    const user = await reauthenticatedUser();
    const authenticator = new SoftwareAuthenticator(APP);
    await register(user, authenticator);
    const options = await signInOptions();
    const responses = [authenticator.get(options), authenticator.get(options)];
    const results = await Promise.all(responses.map((r) => t.gql(FINISH_SIGN_IN, { r })));
    expect(results.filter((r) => r.body.data?.finishPasskeySignIn).length).toBe(1);
    expect(results.map(reason).filter(Boolean)).toEqual(['PASSKEY_INVALID']);
  });

  it('refuses and audits a signature counter that does not grow (a cloned authenticator)', async () => {
    const user = await reauthenticatedUser();
    const authenticator = new SoftwareAuthenticator(APP, { keepsCounter: true });
    await register(user, authenticator);
    expect((await t.gql(FINISH_SIGN_IN, { r: authenticator.get(await signInOptions()) })).body.errors).toBeUndefined();
    const held = authenticator.credentials[0]!;
    const clone = await t.gql(FINISH_SIGN_IN, {
      r: authenticator.get(await signInOptions(), { counter: held.counter }),
    });
    expect(reason(clone)).toBe('PASSKEY_INVALID');
    expect(await auditTypes(user.user.id)).toContain('PASSKEY_CLONE_SUSPECTED');
    // A clone and its original presenting the same counter at once: only one gets through.
    const next = held.counter + 1;
    const [first, second] = [await signInOptions(), await signInOptions()];
    const raced = await Promise.all(
      [first, second].map((options) => t.gql(FINISH_SIGN_IN, { r: authenticator.get(options, { counter: next }) })),
    );
    expect(raced.map(reason).sort()).toEqual(['PASSKEY_INVALID', undefined]);
    held.counter = next;
    // The genuine authenticator, counting on, still signs in.
    expect((await t.gql(FINISH_SIGN_IN, { r: authenticator.get(await signInOptions()) })).body.errors).toBeUndefined();
  });

  it('counts as both factors for a TOTP account, and refuses a disabled account', async () => {
    const user = await reauthenticatedUser();
    const authenticator = new SoftwareAuthenticator(APP);
    await register(user, authenticator);
    await import('../../../src/users/user.model').then(({ UserModel }) =>
      UserModel.updateOne({ _id: user.user.id }, { $set: { totpEnabled: true } }),
    );
    const signedIn = await t.gql(FINISH_SIGN_IN, { r: authenticator.get(await signInOptions()) });
    expect(signedIn.body.data!.finishPasskeySignIn.user.id).toBe(user.user.id);

    const admin = await logIn(t, ADMIN_EMAIL, ADMIN_PASSWORD);
    const disabled = await t.gql(
      'mutation($id: ID!) { setUserDisabled(userId: $id, disabled: true) { id disabled } }',
      { id: user.user.id },
      bearer(admin.accessToken),
    );
    expect(disabled.body.data!.setUserDisabled.disabled).toBe(true);
    const res = await t.gql(FINISH_SIGN_IN, { r: authenticator.get(await signInOptions()) });
    expect(codes(res)).toEqual(['FORBIDDEN']);
    expect(reason(res)).toBe('ACCOUNT_DISABLED');
  });
});

describe('managing passkeys', () => {
  it('renames my passkey; deleting needs the window; another user sees NOT_FOUND', async () => {
    const user = await reauthenticatedUser();
    const other = await signUp(t);
    const authenticator = new SoftwareAuthenticator(APP);
    const { id } = await register(user, authenticator, 'Phone');
    const RENAME = 'mutation($id: ID!, $n: String!) { renamePasskey(id: $id, name: $n) { id name } }';
    const DELETE = 'mutation($id: ID!) { deletePasskey(id: $id) }';
    expect((await t.gql(RENAME, { id, n: ' Work phone ' }, bearer(user.accessToken))).body.data!.renamePasskey).toEqual(
      {
        id,
        name: 'Work phone',
      },
    );
    expect(codes(await t.gql(RENAME, { id, n: '' }, bearer(user.accessToken)))).toEqual(['BAD_USER_INPUT']);
    expect(codes(await t.gql(RENAME, { id, n: 'Mine' }, bearer(other.accessToken)))).toEqual(['NOT_FOUND']);
    expect(reason(await t.gql(DELETE, { id }, bearer(other.accessToken)))).toBe('REAUTHENTICATION_REQUIRED');
    await t.gql(REAUTH, { i: { password: other.password } }, bearer(other.accessToken));
    expect(codes(await t.gql(DELETE, { id }, bearer(other.accessToken)))).toEqual(['NOT_FOUND']);
    expect((await t.gql(DELETE, { id }, bearer(user.accessToken))).body.data!.deletePasskey).toBe(true);
    expect((await t.gql(PASSKEYS, undefined, bearer(user.accessToken))).body.data!.passkeys).toEqual([]);
    expect(await auditTypes(user.user.id)).toContain('PASSKEY_REMOVED');
    expect(reason(await t.gql(FINISH_SIGN_IN, { r: authenticator.get(await signInOptions()) }))).toBe(
      'PASSKEY_INVALID',
    );
  });

  it("deletes a user's passkeys with the account", async () => {
    const user = await reauthenticatedUser();
    await register(user, new SoftwareAuthenticator(APP));
    const res = await t.gql('mutation { deleteAccount }', undefined, bearer(user.accessToken));
    expect(res.body.data!.deleteAccount).toBe(true);
    expect(await PasskeyModel.countDocuments({ userId: user.user.id })).toBe(0);
  });
});
