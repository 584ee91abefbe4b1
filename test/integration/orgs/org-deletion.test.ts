import { AuditEventModel } from '../../../src/audit/audit.model';
import { flushAuditEvents } from '../../../src/audit/audit.service';
import { InvitationModel } from '../../../src/orgs/invitation.model';
import { addMember } from '../../../src/orgs/membership.service';
import { MembershipModel, OrganizationModel, OrgRole } from '../../../src/orgs/org.model';
import { bearer, logIn, signUp, strongPassword, uniqueEmail } from '../../helpers/auth';
import { codes, type GraphQLResponse } from '../../helpers/graphql';
import { startTestServer, type TestServer } from '../../helpers/server';

const ADMIN_EMAIL = uniqueEmail('admin');
const ADMIN_PASSWORD = strongPassword();
const CREATE = `mutation($i: CreateOrganizationInput!) { createOrganization(input: $i) { id } }`;
const ONE = `query($id: ID!) { organization(id: $id) { id } }`;
const LIST = `query { organizations { id } }`;
const DELETE = `mutation($id: ID!, $p: String) { deleteOrganization(id: $id, currentPassword: $p) }`;
const INVITE = `mutation($id: ID!, $e: String!) { inviteMember(orgId: $id, email: $e, role: MEMBER) { id } }`;
const REAUTH = `mutation($i: ReauthenticateInput!) { reauthenticate(input: $i) { expiresAt } }`;

let t: TestServer;
beforeAll(async () => {
  t = await startTestServer({ ADMIN_EMAIL, ADMIN_PASSWORD });
});
afterAll(() => t.stop());

let serial = 0;
async function createOrg(token: string): Promise<string> {
  const slug = `del-${Date.now().toString(36)}-${(serial++).toString(36)}`;
  const res = await t.gql(CREATE, { i: { name: 'Doomed', slug } }, bearer(token));
  return (res.body.data!.createOrganization as { id: string }).id;
}

const reasonOf = (res: GraphQLResponse) => res.body.errors?.[0]?.extensions?.reason;

describe('deleteOrganization', () => {
  it('needs its OWNER, re-authenticated; non-members get NOT_FOUND, lower roles FORBIDDEN', async () => {
    const owner = await signUp(t);
    const admin = await signUp(t);
    const stranger = await signUp(t);
    const id = await createOrg(owner.accessToken);
    // The membership service stands in for an accepted invitation (tested in invitations.test.ts).
    await addMember(id, admin.user.id, OrgRole.ADMIN);

    const unproven = await t.gql(DELETE, { id }, bearer(owner.accessToken));
    expect(codes(unproven)).toEqual(['FORBIDDEN']);
    expect(reasonOf(unproven)).toBe('REAUTHENTICATION_REQUIRED');
    expect(codes(await t.gql(DELETE, { id, p: 'wrong password' }, bearer(owner.accessToken)))).toEqual([
      'BAD_USER_INPUT',
    ]);
    const notOwner = await t.gql(DELETE, { id, p: admin.password }, bearer(admin.accessToken));
    expect(codes(notOwner)).toEqual(['FORBIDDEN']);
    expect(reasonOf(notOwner)).toBe('ORG_ROLE');
    for (const bad of [id, '000000000000000000000000', 'nope'])
      expect(codes(await t.gql(DELETE, { id: bad, p: stranger.password }, bearer(stranger.accessToken)))).toEqual([
        'NOT_FOUND',
      ]);
    expect(await OrganizationModel.exists({ _id: id })).not.toBeNull();
  });

  it('removes the organization and its memberships for every member, and is audited', async () => {
    const owner = await signUp(t);
    const member = await signUp(t);
    const id = await createOrg(owner.accessToken);
    await addMember(id, member.user.id, OrgRole.MEMBER);
    const invited = await t.gql(INVITE, { id, e: 'invitee@example.com' }, bearer(owner.accessToken));
    expect(invited.body.errors).toBeUndefined();
    // The re-authentication window suffices instead of the password.
    expect(
      (await t.gql(REAUTH, { i: { password: owner.password } }, bearer(owner.accessToken))).body.errors,
    ).toBeUndefined();
    expect((await t.gql(DELETE, { id }, bearer(owner.accessToken))).body).toEqual({
      data: { deleteOrganization: true },
    });
    for (const who of [owner, member]) {
      expect((await t.gql(ONE, { id }, bearer(who.accessToken))).body.data!.organization).toBeNull();
      expect((await t.gql(LIST, {}, bearer(who.accessToken))).body.data!.organizations).toEqual([]);
    }
    expect(await OrganizationModel.exists({ _id: id })).toBeNull();
    expect(await MembershipModel.countDocuments({ orgId: id })).toBe(0);
    expect(await InvitationModel.countDocuments({ orgId: id })).toBe(0);
    await flushAuditEvents();
    const event = await AuditEventModel.findOne({ type: 'ORG_DELETED', 'details.orgId': id }).lean();
    expect(event).toMatchObject({ userId: owner.user.id, actorId: owner.user.id });
    // Gone: a second deletion finds nothing.
    expect(codes(await t.gql(DELETE, { id, p: owner.password }, bearer(owner.accessToken)))).toEqual(['NOT_FOUND']);
  });

  it('is open to a site ADMIN, and finishes a deletion that was cut off halfway', async () => {
    const owner = await signUp(t);
    const admin = await logIn(t, ADMIN_EMAIL, ADMIN_PASSWORD);
    const id = await createOrg(owner.accessToken);
    // A deletion cut off after marking the organization: gone for readers, still found for deletion.
    await OrganizationModel.updateOne({ _id: id }, { $set: { deleting: true } });
    expect((await t.gql(ONE, { id }, bearer(owner.accessToken))).body.data!.organization).toBeNull();
    expect(
      (await t.gql(DELETE, { id, p: ADMIN_PASSWORD }, bearer(admin.accessToken))).body.data!.deleteOrganization,
    ).toBe(true);
    expect(await MembershipModel.countDocuments({ orgId: id })).toBe(0);
    expect(await OrganizationModel.exists({ _id: id })).toBeNull();
  });

  it('leaves no member behind when someone joins while it is deleted', async () => {
    const owner = await signUp(t);
    const joiners = await Promise.all([1, 2, 3, 4].map(() => signUp(t)));
    const id = await createOrg(owner.accessToken);
    const [deleted, ...joins] = await Promise.allSettled([
      t.gql(DELETE, { id, p: owner.password }, bearer(owner.accessToken)),
      ...joiners.map((j) => addMember(id, j.user.id, OrgRole.MEMBER)),
    ]);
    expect(deleted).toMatchObject({ status: 'fulfilled', value: { body: { data: { deleteOrganization: true } } } });
    for (const join of joins)
      if (join.status === 'rejected') expect((join.reason as Error).message).toBe('No such organization');
    expect(await MembershipModel.countDocuments({ orgId: id })).toBe(0);
  });
});
