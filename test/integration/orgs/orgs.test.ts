import { addMember } from '../../../src/orgs/membership.service';
import { MembershipModel, OrganizationModel, OrgRole } from '../../../src/orgs/org.model';
import { bearer, logIn, signUp, strongPassword, uniqueEmail } from '../../helpers/auth';
import { codes, type GraphQLResponse } from '../../helpers/graphql';
import { startTestServer, type TestServer } from '../../helpers/server';

const ADMIN_EMAIL = uniqueEmail('admin');
const ADMIN_PASSWORD = strongPassword();
const FIELDS = 'id name slug myRole';
const CREATE = `mutation($i: CreateOrganizationInput!) { createOrganization(input: $i) { ${FIELDS} } }`;
const LIST = `query($all: Boolean) { organizations(all: $all) { ${FIELDS} } }`;
const ONE = `query($id: ID!) { organization(id: $id) { ${FIELDS} } }`;
const RENAME = `mutation($id: ID!, $n: String!) { renameOrganization(id: $id, name: $n) { ${FIELDS} } }`;

let t: TestServer;
beforeAll(async () => {
  t = await startTestServer({ ADMIN_EMAIL, ADMIN_PASSWORD });
});
afterAll(() => t.stop());

let serial = 0;
const slug = (prefix = 'team') => `${prefix}-${Date.now().toString(36)}-${(serial++).toString(36)}`;

async function create(token: string, name: string, s = slug()): Promise<GraphQLResponse> {
  return t.gql(CREATE, { i: { name, slug: s } }, bearer(token));
}

describe('organizations', () => {
  it('are created with the caller as OWNER, listed and read by members only', async () => {
    const owner = await signUp(t);
    const stranger = await signUp(t);
    const made = await create(owner.accessToken, '  Design team ');
    const org = made.body.data!.createOrganization as { id: string; name: string; myRole: string };
    expect(org).toMatchObject({ name: 'Design team', myRole: 'OWNER' });
    expect((await t.gql(LIST, {}, bearer(owner.accessToken))).body.data!.organizations).toEqual([org]);
    expect((await t.gql(ONE, { id: org.id }, bearer(owner.accessToken))).body.data!.organization).toEqual(org);
    // To anyone else it does not exist: null, never FORBIDDEN.
    expect((await t.gql(ONE, { id: org.id }, bearer(stranger.accessToken))).body).toEqual({
      data: { organization: null },
    });
    expect((await t.gql(ONE, { id: 'not-an-id' }, bearer(stranger.accessToken))).body.data!.organization).toBeNull();
    expect((await t.gql(LIST, {}, bearer(stranger.accessToken))).body.data!.organizations).toEqual([]);
    expect(codes(await t.gql(LIST, {}))).toEqual(['UNAUTHENTICATED']);
  });

  it('take slugs as given: malformed ones are BAD_USER_INPUT, a taken one CONFLICT, even in parallel', async () => {
    const user = await signUp(t);
    for (const bad of ['ab', 'Team-A', '-team', 'team-', 'a--b', 'x'.repeat(41), 'tëam'])
      expect(codes(await create(user.accessToken, 'Team', bad))).toEqual(['BAD_USER_INPUT']);
    expect(codes(await create(user.accessToken, '', slug()))).toEqual(['BAD_USER_INPUT']);
    const contested = slug('contested');
    const results = await Promise.all([1, 2, 3].map(() => create(user.accessToken, 'Same', contested)));
    expect(results.filter((r) => r.body.data?.createOrganization)).toHaveLength(1);
    expect(results.flatMap(codes)).toEqual(['CONFLICT', 'CONFLICT']);
  });

  it('are renamed by their OWNER or ADMIN; a VIEWER is FORBIDDEN, to a non-member they are NOT_FOUND', async () => {
    const [owner, stranger, admin, viewer] = await Promise.all([signUp(t), signUp(t), signUp(t), signUp(t)]);
    const { id } = (await create(owner.accessToken, 'Old name')).body.data!.createOrganization as { id: string };
    // The membership service stands in for accepted invitations (tested in invitations.test.ts).
    await addMember(id, admin.user.id, OrgRole.ADMIN);
    await addMember(id, viewer.user.id, OrgRole.VIEWER);
    const renamed = await t.gql(RENAME, { id, n: 'New name' }, bearer(owner.accessToken));
    expect(renamed.body.data!.renameOrganization).toMatchObject({ id, name: 'New name' });
    const byAdmin = await t.gql(RENAME, { id, n: 'Admin name' }, bearer(admin.accessToken));
    expect(byAdmin.body.data!.renameOrganization).toMatchObject({ id, name: 'Admin name', myRole: 'ADMIN' });
    const byViewer = await t.gql(RENAME, { id, n: 'Viewer name' }, bearer(viewer.accessToken));
    expect(codes(byViewer)).toEqual(['FORBIDDEN']);
    expect(byViewer.body.errors![0]!.extensions!.reason).toBe('ORG_ROLE');
    expect(codes(await t.gql(RENAME, { id, n: 'Mine now' }, bearer(stranger.accessToken)))).toEqual(['NOT_FOUND']);
    expect(codes(await t.gql(RENAME, { id, n: ' ' }, bearer(owner.accessToken)))).toEqual(['BAD_USER_INPUT']);
  });

  it('are listed all at once for a site ADMIN only', async () => {
    const user = await signUp(t);
    await create(user.accessToken, 'Visible to admins');
    expect(codes(await t.gql(LIST, { all: true }, bearer(user.accessToken)))).toEqual(['FORBIDDEN']);
    const admin = await logIn(t, ADMIN_EMAIL, ADMIN_PASSWORD);
    const every = await t.gql(LIST, { all: true }, bearer(admin.accessToken));
    const names = (every.body.data!.organizations as { name: string; myRole: string | null }[]).map((o) => o.name);
    expect(names).toContain('Visible to admins');
  });

  it('are at most 20 per user (CONFLICT), even when created in parallel', async () => {
    const user = await signUp(t);
    const results = await Promise.all(Array.from({ length: 24 }, (_, i) => create(user.accessToken, `Org ${i}`)));
    expect(results.filter((r) => r.body.data?.createOrganization)).toHaveLength(20);
    expect(results.flatMap(codes)).toEqual(Array(4).fill('CONFLICT'));
    expect(results.find((r) => r.body.errors)!.body.errors![0]!.extensions!.reason).toBe('ORG_LIMIT');
    expect(await OrganizationModel.countDocuments({ createdBy: user.user.id })).toBe(20);
  });

  it('go with a deleted user who was their only member', async () => {
    const user = await signUp(t);
    const { id } = (await create(user.accessToken, 'Solo')).body.data!.createOrganization as { id: string };
    const deleted = await t.gql(
      'mutation($p: String!) { deleteAccount(currentPassword: $p) }',
      { p: user.password },
      bearer(user.accessToken),
    );
    expect(deleted.body.data!.deleteAccount).toBe(true);
    expect(await OrganizationModel.exists({ _id: id })).toBeNull();
    expect(await MembershipModel.countDocuments({ userId: user.user.id })).toBe(0);
  });
});
