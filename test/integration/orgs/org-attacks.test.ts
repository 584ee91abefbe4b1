import { InvitationModel, InvitationState } from '../../../src/orgs/invitation.model';
import { addMember } from '../../../src/orgs/membership.service';
import { MembershipModel, OrganizationModel, OrgRole } from '../../../src/orgs/org.model';
import { bearer, signUp, strongPassword, uniqueEmail, type Payload } from '../../helpers/auth';
import { codes } from '../../helpers/graphql';
import { createOrg } from '../../helpers/org-items';
import { startTestServer, type TestServer } from '../../helpers/server';

/**
 * Attacks an attacker-minded review of organizations found (each was a hole before its fix):
 * ownerless organizations, throttle resets, an ADMIN ending an invitation to OWNER, revived keys.
 */

const ADMIN_EMAIL = uniqueEmail('admin');
const ADMIN_PASSWORD = strongPassword();
type User = Payload & { email: string; password: string };

const DELETE_ACCOUNT = 'mutation($p: String!) { deleteAccount(currentPassword: $p) }';
const DELETE_ORG = 'mutation($id: ID!, $p: String) { deleteOrganization(id: $id, currentPassword: $p) }';
const INVITE = `mutation($o: ID!, $e: String!, $r: OrgRole!) { inviteMember(orgId: $o, email: $e, role: $r) { id role } }`;
const REVOKE = 'mutation($id: ID!) { revokeInvitation(id: $id) }';
const CREATE_KEY = `mutation($input: CreateApiKeyInput!) { createApiKey(input: $input) { apiKey { id } secret } }`;
const ITEMS = `query($f: ItemFilter) { items(filter: $f) { edges { node { id } } } }`;
const REMOVE = 'mutation($o: ID!, $u: ID!) { removeMember(orgId: $o, userId: $u) }';

let t: TestServer;
beforeAll(async () => {
  t = await startTestServer({ ADMIN_EMAIL, ADMIN_PASSWORD });
});
afterAll(() => t.stop());

const reasonOf = (res: { body: { errors?: Array<{ extensions?: Record<string, unknown> }> } }) =>
  res.body.errors?.[0]?.extensions?.reason;

describe('last-OWNER invariant vs account deletion', () => {
  it('two OWNERs deleting their accounts at once never leave members without an OWNER', async () => {
    const ownerless: string[] = [];
    for (let round = 0; round < 3; round++) {
      const [a, c, b] = (await Promise.all([signUp(t), signUp(t), signUp(t)])) as User[];
      const orgId = await createOrg(t, a.accessToken, 'Race');
      expect(await addMember(orgId, c.user.id, OrgRole.OWNER)).toBe('added');
      expect(await addMember(orgId, b.user.id, OrgRole.MEMBER)).toBe('added');
      const results = await Promise.all(
        [a, c].map((u) => t.gql(DELETE_ACCOUNT, { p: u.password }, bearer(u.accessToken))),
      );
      const owners = await MembershipModel.countDocuments({ orgId, role: OrgRole.OWNER });
      const members = await MembershipModel.countDocuments({ orgId });
      const org = await OrganizationModel.findById(orgId).lean();
      if (members > 0 && owners === 0) {
        ownerless.push(
          `${orgId}: results ${JSON.stringify(results.map((r) => r.body))}, ownerCount ${org?.ownerCount}, members ${members}`,
        );
      }
      // Whichever way the race went, the counters match the memberships left.
      expect({ ownerCount: org?.ownerCount, memberCount: org?.memberCount }).toEqual({
        ownerCount: owners,
        memberCount: members,
      });
      // Both deletions went through: the member who is left is the OWNER now (the successor).
      if (results.every((r) => r.body.data?.deleteAccount === true))
        expect(await MembershipModel.findOne({ orgId, userId: b.user.id }).lean()).toMatchObject({ role: 'OWNER' });
    }
    expect(ownerless).toEqual([]);
  });
});

describe('invitations', () => {
  it('the per-organization mail throttle cannot be reset by deleting and re-creating the organization', async () => {
    const owner = (await signUp(t)) as User;
    let sent = 0;
    let refused = false;
    for (let org = 0; org < 2 && !refused; org++) {
      const orgId = await createOrg(t, owner.accessToken, 'Spam');
      for (let i = 0; i < 20; i++) {
        const res = await t.gql(
          INVITE,
          { o: orgId, e: `victim-${i}@example.com`, r: 'VIEWER' },
          bearer(owner.accessToken),
        );
        if (codes(res).includes('TOO_MANY_REQUESTS')) {
          refused = true;
          break;
        }
        expect(res.body.errors).toBeUndefined();
        sent += 1;
      }
      const del = await t.gql(DELETE_ORG, { id: orgId, p: owner.password }, bearer(owner.accessToken));
      expect(del.body.data).toEqual({ deleteOrganization: true });
    }
    // One user, one hour, the same 20 addresses: 40 invitation mails went out.
    expect(sent).toBeLessThanOrEqual(20);
  });

  it('an ADMIN cannot end an invitation to OWNER (revoke is FORBIDDEN; nor by replacing it)', async () => {
    const [owner, admin] = (await Promise.all([signUp(t), signUp(t)])) as User[];
    const orgId = await createOrg(t, owner.accessToken, 'Succession');
    expect(await addMember(orgId, admin.user.id, OrgRole.ADMIN)).toBe('added');
    const heir = uniqueEmail('heir');
    const asOwner = await t.gql<{ inviteMember: { id: string } }>(
      INVITE,
      { o: orgId, e: heir, r: 'OWNER' },
      bearer(owner.accessToken),
    );
    const ownerInvitation = asOwner.body.data!.inviteMember.id;
    const revoke = await t.gql(REVOKE, { id: ownerInvitation }, bearer(admin.accessToken));
    expect(reasonOf(revoke)).toBe('ORG_ROLE');
    // The ADMIN invites the same address as VIEWER: the OWNER's invitation is replaced.
    const replaced = await t.gql(INVITE, { o: orgId, e: heir, r: 'VIEWER' }, bearer(admin.accessToken));
    const state = (await InvitationModel.findById(ownerInvitation).lean())?.state;
    expect({ errors: codes(replaced), state }).toEqual({ errors: ['FORBIDDEN'], state: InvitationState.PENDING });
  });
});

describe('organization API keys', () => {
  it("a removed member's organization key stays dead when they are invited back", async () => {
    const [owner, member] = (await Promise.all([signUp(t), signUp(t)])) as User[];
    const orgId = await createOrg(t, owner.accessToken, 'Keys');
    expect(await addMember(orgId, member.user.id, OrgRole.MEMBER)).toBe('added');
    const key = await t.gql<{ createApiKey: { secret: string } }>(
      CREATE_KEY,
      { input: { name: 'ci', scopes: ['ITEMS_READ'], orgId } },
      bearer(member.accessToken),
    );
    const secret = key.body.data!.createApiKey.secret;
    expect((await t.gql(ITEMS, {}, bearer(secret))).body.errors).toBeUndefined();
    const removed = await t.gql(REMOVE, { o: orgId, u: member.user.id }, bearer(owner.accessToken));
    expect(removed.body.data).toEqual({ removeMember: true });
    expect((await t.gql(ITEMS, {}, bearer(secret))).status).toBe(401);
    // Re-invited later (e.g. after the leak that got them removed was "fixed"): the old key revives.
    expect(await addMember(orgId, member.user.id, OrgRole.MEMBER)).toBe('added');
    expect((await t.gql(ITEMS, {}, bearer(secret))).status).toBe(401);
  });
});
