import { bearer, ME, REGISTER, signUp, strongPassword, uniqueEmail } from '../../helpers/auth';
import { codes } from '../../helpers/graphql';
import { startTestServer, type TestServer } from '../../helpers/server';

const UPDATE_PROFILE =
  'mutation($i: UpdateProfileInput!) { updateProfile(input: $i) { id email displayName emailVerified role } }';

describe('profile: displayName and emailVerified', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer();
  });
  afterAll(() => t.stop());
  const update = (token: string, displayName: unknown) => t.gql(UPDATE_PROFILE, { i: { displayName } }, bearer(token));

  it('registers with a trimmed display name; a new address is not verified yet', async () => {
    const res = await t.gql(REGISTER, {
      input: { email: uniqueEmail(), password: strongPassword(), displayName: '  Ada Lovelace ' },
    });
    const token = res.body.data!.register.accessToken as string;
    const me = await t.gql('{ me { displayName emailVerified } }', {}, bearer(token));
    expect(me.body.data!.me).toEqual({ displayName: 'Ada Lovelace', emailVerified: false });
  });

  it('changes, and with null clears, my display name', async () => {
    const user = await signUp(t);
    const changed = await update(user.accessToken, ' Grace ');
    expect(changed.body.data!.updateProfile).toMatchObject({
      id: user.user.id,
      displayName: 'Grace',
      email: user.email,
    });
    expect((await update(user.accessToken, null)).body.data!.updateProfile.displayName).toBeNull();
    expect((await t.gql('{ me { displayName } }', {}, bearer(user.accessToken))).body.data!.me.displayName).toBeNull();
  });

  it.each([
    ['empty after trimming', '   '],
    ['over 100 characters', 'x'.repeat(101)],
    ['a line break', 'two\nlines'],
    ['a NUL', 'nul\u0000byte'],
    ['a right-to-left override', 'abc\u202Egnp.exe'],
    ['with a link (issue 21)', 'Security team: your account is locked. Re-activate at https://evil.example/login now'],
    ['with a scheme', 'see http://evil.example'],
    ['with a scheme but no slashes', 'mailto:help@evil.example'],
    ['with www.', 'Visit www.evil.example'],
    ['with a bare domain and path', 'Re-activate at evil.example/login now'],
    ['with a bare domain', 'paypal.com support'],
    ['with a mixed-case domain', 'PayPal.Com support'],
    ['with a sub-domain in title case', 'Login.Paypal.Com'],
    ['with a short title-case domain and a path', 'Bit.Ly/abc'],
    ['with full-width dots', 'evil\uFF0Eexample'],
    ['with an ideographic full stop', 'evil\u3002example'],
    ['with an IPv4 address', 'Go to 203.0.113.7'],
    ['with an email address', 'Write to victim@example.com'],
  ])(
    'refuses a display name %s with BAD_USER_INPUT (field displayName), in register and updateProfile',
    async (_label, name) => {
      const user = await signUp(t);
      const res = await update(user.accessToken, name);
      expect(codes(res)).toEqual(['BAD_USER_INPUT']);
      expect(res.body.errors![0]!.extensions!.field).toBe('displayName');
      const reg = await t.gql(REGISTER, {
        input: { email: uniqueEmail(), password: strongPassword(), displayName: name },
      });
      expect(codes(reg)).toEqual(['BAD_USER_INPUT']);
      expect(reg.body.errors![0]!.extensions!.field).toBe('displayName');
    },
  );

  it.each([
    'J. R. R. Tolkien',
    'J.R.R. Tolkien',
    'Dr.Who',
    'St.John Smith',
    'Ada L.',
    'Jane Doe, Ph.D.',
    'Security team: your account is locked',
    '@ada',
    "Anne-Marie O'Neil",
    'Mr. T',
  ])('accepts the display name %j (dots between words, no link or address)', async (name) => {
    const user = await signUp(t);
    expect((await update(user.accessToken, name)).body.data!.updateProfile.displayName).toBe(name);
    const reg = await t.gql(REGISTER, {
      input: { email: uniqueEmail(), password: strongPassword(), displayName: name },
    });
    expect(codes(reg)).toEqual([]);
  });

  it('accepts 100 characters, also outside Latin script', async () => {
    const user = await signUp(t);
    const name = 'Ж'.repeat(100);
    expect((await update(user.accessToken, name)).body.data!.updateProfile.displayName).toBe(name);
  });

  it('refuses an anonymous caller with UNAUTHENTICATED and an empty input with BAD_USER_INPUT', async () => {
    expect(codes(await t.gql(UPDATE_PROFILE, { i: { displayName: 'x' } }))).toEqual(['UNAUTHENTICATED']);
    const user = await signUp(t);
    expect(codes(await t.gql(UPDATE_PROFILE, { i: {} }, bearer(user.accessToken)))).toEqual(['BAD_USER_INPUT']);
  });

  it("shows other users the display name through PublicUser only, never the owner's email", async () => {
    const owner = await signUp(t);
    await update(owner.accessToken, 'Item Owner');
    const created = await t.gql(
      'mutation { createItem(input: { name: "Lamp" }) { id } }',
      {},
      bearer(owner.accessToken),
    );
    const viewer = await signUp(t);
    const seen = await t.gql(
      'query($id: ID!) { item(id: $id) { owner { id displayName } } }',
      { id: created.body.data!.createItem.id },
      bearer(viewer.accessToken),
    );
    expect(seen.body.data!.item.owner).toEqual({ id: owner.user.id, displayName: 'Item Owner' });
    const leak = await t.gql(
      'query($id: ID!) { item(id: $id) { owner { emailVerified } } }',
      { id: created.body.data!.createItem.id },
      bearer(viewer.accessToken),
    );
    expect(codes(leak)).toEqual(['GRAPHQL_VALIDATION_FAILED']);
    expect((await t.gql(ME, {}, bearer(owner.accessToken))).body.data!.me.email).toBe(owner.email);
  });
});
