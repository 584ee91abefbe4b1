import { AuditEventModel } from '../../../src/audit/audit.model';
import { ItemModel } from '../../../src/items/item.model';
import { addMember } from '../../../src/orgs/membership.service';
import { MembershipModel, OrganizationModel, OrgRole } from '../../../src/orgs/org.model';
import { UserModel } from '../../../src/users/user.model';
import { bearer, logIn, signUp, strongPassword, uniqueEmail, type Payload } from '../../helpers/auth';
import { codes, type GraphQLResponse } from '../../helpers/graphql';
import { eventually } from '../../helpers/realtime';
import { startTestServer, type TestServer } from '../../helpers/server';

const ADMIN_EMAIL = uniqueEmail('admin');
const ADMIN_PASSWORD = strongPassword();
const MEMBERSHIP = 'role joinedAt user { id displayName }';
const CREATE = 'mutation($i: CreateOrganizationInput!) { createOrganization(input: $i) { id } }';
const MEMBERS = `query($id: ID!, $first: Int, $after: String) { organization(id: $id) { members(first: $first, after: $after) {
  totalCount edges { cursor node { ${MEMBERSHIP} } } pageInfo { hasNextPage hasPreviousPage endCursor } } } }`;
const SET_ROLE = `mutation($o: ID!, $u: ID!, $r: OrgRole!) { setMemberRole(orgId: $o, userId: $u, role: $r) { ${MEMBERSHIP} } }`;
const REMOVE = 'mutation($o: ID!, $u: ID!) { removeMember(orgId: $o, userId: $u) }';
const LEAVE = 'mutation($o: ID!) { leaveOrganization(orgId: $o) }';
const ONE = 'query($id: ID!) { organization(id: $id) { id myRole } }';

type User = Payload & { email: string; password: string };
interface Members {
  totalCount: number;
  edges: {
    cursor: string;
    node: { role: string; joinedAt: string; user: { id: string; displayName: string | null } };
  }[];
  pageInfo: { hasNextPage: boolean; hasPreviousPage: boolean; endCursor: string | null };
}

let t: TestServer;
let admin: Payload;
beforeAll(async () => {
  t = await startTestServer({ ADMIN_EMAIL, ADMIN_PASSWORD });
  admin = await logIn(t, ADMIN_EMAIL, ADMIN_PASSWORD);
});
afterAll(() => t.stop());

let serial = 0;
const slug = () => `members-${Date.now().toString(36)}-${(serial++).toString(36)}`;

/** An organization `owner` created over HTTP, and its id. */
async function organization(owner: User): Promise<string> {
  const res = await t.gql<{ createOrganization: { id: string } }>(
    CREATE,
    { i: { name: 'Team', slug: slug() } },
    bearer(owner.accessToken),
  );
  return res.body.data!.createOrganization.id;
}

/**
 * Makes `user` a member. Invitations are being written in parallel (another branch): until they
 * land, memberships are made with the service's own addMember, in this process, which shares the
 * server's database connection (and its per-organization write queue).
 */
async function join(orgId: string, user: User, role: OrgRole): Promise<void> {
  expect(await addMember(orgId, user.user.id, role)).toBe('added');
}

/** An organization with an OWNER and one user of each other role. */
async function team() {
  const [owner, admin1, member, viewer] = await Promise.all([signUp(t), signUp(t), signUp(t), signUp(t)]);
  const orgId = await organization(owner);
  await join(orgId, admin1, OrgRole.ADMIN);
  await join(orgId, member, OrgRole.MEMBER);
  await join(orgId, viewer, OrgRole.VIEWER);
  return { orgId, owner, admin: admin1, member, viewer };
}

const members = (token: string, id: string, first?: number, after?: string | null) =>
  t.gql<{ organization: { members: Members } | null }>(MEMBERS, { id, first, after }, bearer(token));
const setRole = (token: string, o: string, u: string, r: string) =>
  t.gql<{ setMemberRole: Members['edges'][number]['node'] }>(SET_ROLE, { o, u, r }, bearer(token));
const remove = (token: string, o: string, u: string) => t.gql(REMOVE, { o, u }, bearer(token));
const leave = (token: string, o: string) => t.gql(LEAVE, { o }, bearer(token));
const reason = (res: GraphQLResponse) => (res.body.errors ?? []).map((e) => e.extensions?.reason);

async function counters(orgId: string) {
  const org = await OrganizationModel.findById(orgId).lean();
  const rows = await MembershipModel.find({ orgId }).lean();
  return {
    memberCount: org!.memberCount,
    ownerCount: org!.ownerCount,
    members: rows.length,
    owners: rows.filter((m) => m.role === OrgRole.OWNER).length,
  };
}

/** The audit events of `type` about `userId`, once `n` of them are written (recording is fire and forget). */
async function audited(type: string, userId: string, n = 1) {
  return eventually(async () => {
    const rows = await AuditEventModel.find({ type, userId }).sort({ createdAt: 1, _id: 1 }).lean();
    return rows.length >= n ? rows : undefined;
  }, `${n} ${type} event(s)`);
}

describe('Organization.members', () => {
  it('pages the members oldest first, every one once, for any member and site ADMINs, never for others', async () => {
    const { orgId, owner, admin: a, member, viewer } = await team();
    const extra = await signUp(t);
    await join(orgId, extra, OrgRole.MEMBER);
    const joined = [owner, a, member, viewer, extra].map((u) => u.user.id);

    const seen: string[] = [];
    let after: string | null = null;
    for (let page = 0; page < 3; page += 1) {
      const res = await members(viewer.accessToken, orgId, 2, after);
      const conn = res.body.data!.organization!.members;
      expect(conn.totalCount).toBe(5);
      expect(conn.pageInfo.hasPreviousPage).toBe(after !== null);
      seen.push(...conn.edges.map((e) => e.node.user.id));
      expect(conn.pageInfo.hasNextPage).toBe(page < 2);
      after = conn.pageInfo.endCursor;
    }
    expect(seen).toEqual(joined);
    const first = (await members(owner.accessToken, orgId, 1)).body.data!.organization!.members.edges[0]!.node;
    expect(first).toMatchObject({ role: 'OWNER', user: { id: owner.user.id, displayName: null } });

    // A site ADMIN who is not a member sees them; a stranger does not see the organization at all.
    expect((await members(admin.accessToken, orgId)).body.data!.organization!.members.totalCount).toBe(5);
    const stranger = await signUp(t);
    expect((await members(stranger.accessToken, orgId)).body).toEqual({ data: { organization: null } });
    expect(codes(await members(owner.accessToken, orgId, 2, 'not-a-cursor'))).toEqual(['BAD_USER_INPUT']);
    expect(codes(await members(owner.accessToken, orgId, 101))).toEqual(['BAD_USER_INPUT']);
  });

  it('still answers while a member is being deleted: the user shows with an id and no name', async () => {
    const { orgId, owner, member } = await team();
    // The moment between the deletion of the user document and that of its memberships.
    await UserModel.deleteOne({ _id: member.user.id });
    const res = await members(owner.accessToken, orgId);
    expect(res.body.errors).toBeUndefined();
    const nodes = res.body.data!.organization!.members.edges.map((e) => e.node);
    expect(nodes.find((n) => n.user.id === member.user.id)).toMatchObject({
      role: 'MEMBER',
      user: { displayName: null },
    });
  });
});

describe('Mutation.setMemberRole', () => {
  it('lets OWNERs set any role, ADMINs any but OWNER, and nobody else; strangers get NOT_FOUND', async () => {
    const { orgId, owner, admin: a, member, viewer } = await team();
    const stranger = await signUp(t);
    // MEMBERs and VIEWERs manage nobody.
    expect(reason(await setRole(member.accessToken, orgId, viewer.user.id, 'MEMBER'))).toEqual(['ORG_ROLE']);
    expect(codes(await setRole(viewer.accessToken, orgId, member.user.id, 'VIEWER'))).toEqual(['FORBIDDEN']);
    // ADMINs move non-OWNERs between ADMIN, MEMBER and VIEWER.
    const demoted = await setRole(a.accessToken, orgId, member.user.id, 'VIEWER');
    expect(demoted.body.data!.setMemberRole).toMatchObject({ role: 'VIEWER', user: { id: member.user.id } });
    expect((await setRole(a.accessToken, orgId, viewer.user.id, 'ADMIN')).body.data!.setMemberRole.role).toBe('ADMIN');
    // ...but neither touch OWNERs nor make them.
    expect(reason(await setRole(a.accessToken, orgId, owner.user.id, 'MEMBER'))).toEqual(['ORG_ROLE']);
    expect(reason(await setRole(a.accessToken, orgId, member.user.id, 'OWNER'))).toEqual(['ORG_ROLE']);
    expect(reason(await setRole(a.accessToken, orgId, a.user.id, 'OWNER'))).toEqual(['ORG_ROLE']);
    // OWNERs do.
    expect((await setRole(owner.accessToken, orgId, a.user.id, 'OWNER')).body.data!.setMemberRole.role).toBe('OWNER');
    expect((await setRole(a.accessToken, orgId, owner.user.id, 'MEMBER')).body.data!.setMemberRole.role).toBe('MEMBER');
    expect((await t.gql(ONE, { id: orgId }, bearer(owner.accessToken))).body.data!.organization.myRole).toBe('MEMBER');
    // Not a member, or not a member's id: NOT_FOUND, never FORBIDDEN.
    expect(codes(await setRole(stranger.accessToken, orgId, member.user.id, 'ADMIN'))).toEqual(['NOT_FOUND']);
    expect(codes(await setRole(a.accessToken, orgId, stranger.user.id, 'MEMBER'))).toEqual(['NOT_FOUND']);
    expect(codes(await setRole(a.accessToken, orgId, 'nope', 'MEMBER'))).toEqual(['NOT_FOUND']);
    expect(codes(await setRole(a.accessToken, 'nope', member.user.id, 'MEMBER'))).toEqual(['NOT_FOUND']);
    // A site ADMIN manages every organization.
    expect((await setRole(admin.accessToken, orgId, owner.user.id, 'OWNER')).body.data!.setMemberRole.role).toBe(
      'OWNER',
    );
    expect(await counters(orgId)).toEqual({ memberCount: 4, ownerCount: 2, members: 4, owners: 2 });
  });

  it('audits each change with its actor, and a role set to what it was changes and audits nothing', async () => {
    const { orgId, owner, member } = await team();
    await setRole(owner.accessToken, orgId, member.user.id, 'ADMIN');
    expect((await setRole(owner.accessToken, orgId, member.user.id, 'ADMIN')).body.errors).toBeUndefined();
    const [event] = await audited('MEMBER_ROLE_CHANGED', member.user.id);
    expect(event).toMatchObject({ actorId: owner.user.id, details: { orgId, from: 'MEMBER', to: 'ADMIN' } });
    await new Promise((r) => setTimeout(r, 200));
    expect(await AuditEventModel.countDocuments({ type: 'MEMBER_ROLE_CHANGED', userId: member.user.id })).toBe(1);
  });

  it('never demotes the last OWNER (CONFLICT LAST_OWNER)', async () => {
    const { orgId, owner } = await team();
    const res = await setRole(owner.accessToken, orgId, owner.user.id, 'ADMIN');
    expect(codes(res)).toEqual(['CONFLICT']);
    expect(reason(res)).toEqual(['LAST_OWNER']);
    expect(await counters(orgId)).toMatchObject({ ownerCount: 1, owners: 1 });
  });

  it('of two OWNERs demoting each other at once, exactly one succeeds', async () => {
    for (let round = 0; round < 3; round += 1) {
      const { orgId, owner, admin: other } = await team();
      await setRole(owner.accessToken, orgId, other.user.id, 'OWNER');
      const results = await Promise.all([
        setRole(owner.accessToken, orgId, other.user.id, 'ADMIN'),
        setRole(other.accessToken, orgId, owner.user.id, 'ADMIN'),
      ]);
      expect(results.filter((r) => r.body.data?.setMemberRole)).toHaveLength(1);
      expect(results.flatMap(reason)).toEqual(['LAST_OWNER']);
      expect(await counters(orgId)).toEqual({ memberCount: 4, ownerCount: 1, members: 4, owners: 1 });
    }
  });

  it('two ADMINs changing one member at once both apply, one after the other, each audited', async () => {
    const { orgId, owner, admin: a1, member } = await team();
    const a2 = await signUp(t);
    await join(orgId, a2, OrgRole.ADMIN);
    const results = await Promise.all([
      setRole(a1.accessToken, orgId, member.user.id, 'VIEWER'),
      setRole(a2.accessToken, orgId, member.user.id, 'ADMIN'),
    ]);
    expect(results.flatMap(codes)).toEqual([]);
    const final = (await MembershipModel.findOne({ orgId, userId: member.user.id }).lean())!.role;
    expect(['VIEWER', 'ADMIN']).toContain(final);
    const events = await audited('MEMBER_ROLE_CHANGED', member.user.id, 2);
    // The second change started from the first's result, and ended where the membership is.
    const chain = events.map((e) => [e.details.from, e.details.to]);
    expect(chain[0]![0]).toBe('MEMBER');
    expect(chain[1]![0]).toBe(chain[0]![1]);
    expect(chain[1]![1]).toBe(final);
    expect(new Set(events.map((e) => e.actorId))).toEqual(new Set([a1.user.id, a2.user.id]));

    // An OWNER's promotion racing an ADMIN's change: the counts stay those of the memberships.
    const raced = await Promise.all([
      setRole(owner.accessToken, orgId, a2.user.id, 'OWNER'),
      setRole(a1.accessToken, orgId, a2.user.id, 'VIEWER'),
    ]);
    expect(raced[0]!.body.data!.setMemberRole.role).toBe('OWNER');
    // The ADMIN's change either came first (then the OWNER's applied to it) or met an OWNER (FORBIDDEN).
    expect(raced[1]!.body.errors === undefined || reason(raced[1]!)[0] === 'ORG_ROLE').toBe(true);
    expect(await counters(orgId)).toEqual({ memberCount: 5, ownerCount: 2, members: 5, owners: 2 });
  });
});

describe('Mutation.removeMember and leaveOrganization', () => {
  it('removes a member (items stay), audited with the actor; the removed member no longer sees it', async () => {
    const { orgId, owner, admin: a, member, viewer } = await team();
    const item = await ItemModel.create({
      name: 'Shared plan',
      nameKey: 'shared plan',
      priceKey: -1,
      ownerId: member.user.id,
      orgId,
    });
    expect(reason(await remove(a.accessToken, orgId, owner.user.id))).toEqual(['ORG_ROLE']);
    expect(reason(await remove(member.accessToken, orgId, viewer.user.id))).toEqual(['ORG_ROLE']);
    expect((await remove(a.accessToken, orgId, member.user.id)).body.data!.removeMember).toBe(true);
    expect((await t.gql(ONE, { id: orgId }, bearer(member.accessToken))).body.data!.organization).toBeNull();
    expect(codes(await remove(a.accessToken, orgId, member.user.id))).toEqual(['NOT_FOUND']);
    expect(await ItemModel.exists({ _id: item._id, orgId })).not.toBeNull();
    const [event] = await audited('MEMBER_REMOVED', member.user.id);
    expect(event).toMatchObject({ actorId: a.user.id, details: { orgId, role: 'MEMBER', left: false } });
    // The OWNER removes an ADMIN; a site ADMIN removes anyone.
    expect((await remove(owner.accessToken, orgId, a.user.id)).body.data!.removeMember).toBe(true);
    expect((await remove(admin.accessToken, orgId, viewer.user.id)).body.data!.removeMember).toBe(true);
    expect(await counters(orgId)).toEqual({ memberCount: 1, ownerCount: 1, members: 1, owners: 1 });
  });

  it('of two ADMINs removing one member at once, one succeeds and the other finds no member', async () => {
    const { orgId, owner, admin: a, member } = await team();
    const results = await Promise.all([
      remove(owner.accessToken, orgId, member.user.id),
      remove(a.accessToken, orgId, member.user.id),
    ]);
    expect(results.filter((r) => r.body.data?.removeMember === true)).toHaveLength(1);
    expect(results.flatMap(codes)).toEqual(['NOT_FOUND']);
    expect(await counters(orgId)).toEqual({ memberCount: 3, ownerCount: 1, members: 3, owners: 1 });
  });

  it('lets any member leave, audited as left by themselves; strangers get NOT_FOUND', async () => {
    const { orgId, viewer } = await team();
    const stranger = await signUp(t);
    expect(codes(await leave(stranger.accessToken, orgId))).toEqual(['NOT_FOUND']);
    expect(codes(await leave(admin.accessToken, orgId))).toEqual(['NOT_FOUND']);
    expect((await leave(viewer.accessToken, orgId)).body.data!.leaveOrganization).toBe(true);
    expect(codes(await leave(viewer.accessToken, orgId))).toEqual(['NOT_FOUND']);
    const [event] = await audited('MEMBER_REMOVED', viewer.user.id);
    expect(event).toMatchObject({ actorId: viewer.user.id, details: { orgId, role: 'VIEWER', left: true } });
    expect(await counters(orgId)).toEqual({ memberCount: 3, ownerCount: 1, members: 3, owners: 1 });
  });

  it('keeps the last OWNER: not removed, not leaving, not deleting the account while others are members', async () => {
    const { orgId, owner, member } = await team();
    for (const res of [await remove(owner.accessToken, orgId, owner.user.id), await leave(owner.accessToken, orgId)]) {
      expect(codes(res)).toEqual(['CONFLICT']);
      expect(reason(res)).toEqual(['LAST_OWNER']);
    }
    const deletion = await t.gql(
      'mutation($p: String!) { deleteAccount(currentPassword: $p) }',
      { p: owner.password },
      bearer(owner.accessToken),
    );
    expect(codes(deletion)).toEqual(['CONFLICT']);
    expect(reason(deletion)).toEqual(['LAST_OWNER']);
    expect(await UserModel.exists({ _id: owner.user.id })).not.toBeNull();
    expect(await counters(orgId)).toEqual({ memberCount: 4, ownerCount: 1, members: 4, owners: 1 });

    // Once another member owns it, the former last OWNER may leave.
    await setRole(owner.accessToken, orgId, member.user.id, 'OWNER');
    expect((await leave(owner.accessToken, orgId)).body.data!.leaveOrganization).toBe(true);
    expect(await counters(orgId)).toEqual({ memberCount: 3, ownerCount: 1, members: 3, owners: 1 });
  });

  it('keeps the counts when a member or one of two OWNERs deletes their account', async () => {
    const { orgId, owner, admin: a, member } = await team();
    await setRole(owner.accessToken, orgId, a.user.id, 'OWNER');
    for (const user of [member, owner]) {
      const res = await t.gql(
        'mutation($p: String!) { deleteAccount(currentPassword: $p) }',
        { p: user.password },
        bearer(user.accessToken),
      );
      expect(res.body.data!.deleteAccount).toBe(true);
    }
    expect(await counters(orgId)).toEqual({ memberCount: 2, ownerCount: 1, members: 2, owners: 1 });
  });
});
