import { flushAuditEvents } from '../../../src/audit/audit.service';
import { InvitationModel } from '../../../src/orgs/invitation.model';
import { deleteExpiredInvitations } from '../../../src/orgs/invitation.pending';
import { deleteInvitationsOf } from '../../../src/orgs/invitation.service';
import { addMember } from '../../../src/orgs/membership.service';
import { OrganizationModel, OrgRole } from '../../../src/orgs/org.model';
import { bearer, logIn, strongPassword, uniqueEmail } from '../../helpers/auth';
import { codes } from '../../helpers/graphql';
import { invitationKit, reasons, type Account } from '../../helpers/invitations';
import { startMailbox, type Mailbox } from '../../helpers/mailbox';
import { startTestServer, type TestServer } from '../../helpers/server';

const ADMIN_EMAIL = uniqueEmail('admin');
const ADMIN_PASSWORD = strongPassword();
const ONE_ORG = 'query($id: ID!) { organization(id: $id) { id myRole } }';
const EVENTS = `query($f: AuditEventFilter) { auditEvents(filter: $f, first: 100) {
  edges { node { type userId actorId email details { key value } } } } }`;

let mailbox: Mailbox;
let t: TestServer;
let kit: ReturnType<typeof invitationKit>;
beforeAll(async () => {
  mailbox = await startMailbox();
  t = await startTestServer({
    ADMIN_EMAIL,
    ADMIN_PASSWORD,
    SMTP_URL: mailbox.url,
    ACCEPT_INVITATION_URL: 'https://app.example.test/join?token={token}',
  });
  kit = invitationKit(t, mailbox);
});
afterAll(async () => {
  await t.stop();
  await mailbox.stop();
});

/** An organization with its OWNER, and a verified user who is not a member yet. */
async function setUp(): Promise<{ owner: Account; orgId: string; bob: Account }> {
  const owner = await kit.user();
  return { owner, orgId: await kit.org(owner), bob: await kit.user() };
}

describe('inviteMember and acceptInvitation', () => {
  it('mail a single-use link with fixed text only, which joins the invited, verified address', async () => {
    const { owner, orgId, bob } = await setUp();
    const { invitation, token, mail } = await kit.invited(owner, orgId, `  ${bob.email.toUpperCase()} `, 'VIEWER');
    expect(invitation).toMatchObject({ email: bob.email, role: 'VIEWER', invitedBy: { id: owner.id } });
    const days = (Date.parse(invitation.expiresAt) - Date.now()) / 86_400_000;
    expect(days).toBeGreaterThan(6.99);
    expect(days).toBeLessThanOrEqual(7);
    // The link is ACCEPT_INVITATION_URL's; the body names neither the organization nor the inviter.
    expect(mailbox.link(mail).origin + mailbox.link(mail).pathname).toBe('https://app.example.test/join');
    expect(mail.text).toContain('as a viewer');
    expect(mail.text).toContain('valid for 7 days');
    for (const part of [mail.text, mail.html, mail.subject])
      for (const leak of ['Northwind', owner.email, owner.email.split('@')[0]!]) expect(part).not.toContain(leak);
    // Only the token's hash is stored.
    expect(await InvitationModel.exists({ tokenHash: token })).toBeNull();

    const accepted = await kit.accept(bob, token);
    expect(accepted.body.data!.acceptInvitation).toEqual({ id: orgId, name: 'Northwind Traders', myRole: 'VIEWER' });
    expect((await t.gql(ONE_ORG, { id: orgId }, bob.auth)).body.data!.organization).toEqual({
      id: orgId,
      myRole: 'VIEWER',
    });
    expect((await kit.list(owner, orgId)).body.data!.invitations).toEqual([]);
    // Single use.
    expect(codes(await kit.accept(bob, token))).toEqual(['BAD_USER_INPUT']);
    expect((await kit.accept(bob, token)).body.errors![0]!.extensions!.field).toBe('token');
  });

  it('refuse the wrong account, an unverified address and a signed-out caller without using the token', async () => {
    const { owner, orgId } = await setUp();
    const unverified = await kit.user(false);
    const other = await kit.user();
    const { token } = await kit.invited(owner, orgId, unverified.email);
    expect(codes(await kit.accept(null, token))).toEqual(['UNAUTHENTICATED']);
    const wrong = await kit.accept(other, token);
    expect([codes(wrong), reasons(wrong)]).toEqual([['FORBIDDEN'], ['INVITATION_EMAIL_MISMATCH']]);
    const notVerified = await kit.accept(unverified, token);
    expect([codes(notVerified), reasons(notVerified)]).toEqual([['FORBIDDEN'], ['EMAIL_NOT_VERIFIED']]);
    expect((await kit.list(owner, orgId)).body.data!.invitations).toHaveLength(1);
    // Once the address is proven, the same link works.
    const verify = mailbox.messages.find((m) => m.to === unverified.email && m.subject.startsWith('Confirm'))!;
    await t.gql('mutation($t: String!) { verifyEmail(token: $t) { id } }', { t: mailbox.linkToken(verify) });
    expect((await kit.accept(unverified, token)).body.data!.acceptInvitation).toMatchObject({ myRole: 'MEMBER' });
  });

  it('answer BAD_USER_INPUT for unknown, malformed, replaced, revoked and expired tokens', async () => {
    const { owner, orgId, bob } = await setUp();
    for (const token of ['A'.repeat(43), 'short', ''])
      expect(codes(await kit.accept(bob, token))).toEqual(['BAD_USER_INPUT']);
    // A newer invitation replaces the older: one pending, the old link dead, the new role offered.
    const older = await kit.invited(owner, orgId, bob.email, 'VIEWER');
    const newer = await kit.invited(owner, orgId, bob.email, 'ADMIN');
    expect((await kit.list(owner, orgId)).body.data!.invitations.map((i) => i.id)).toEqual([newer.invitation.id]);
    expect(codes(await kit.accept(bob, older.token))).toEqual(['BAD_USER_INPUT']);
    expect(await kit.revoke(owner, older.invitation.id)).toMatchObject({ body: { data: { revokeInvitation: false } } });
    // Revoked: true once, then false; the link is dead.
    expect((await kit.revoke(owner, newer.invitation.id)).body.data!.revokeInvitation).toBe(true);
    expect((await kit.revoke(owner, newer.invitation.id)).body.data!.revokeInvitation).toBe(false);
    expect(codes(await kit.accept(bob, newer.token))).toEqual(['BAD_USER_INPUT']);
    // Expired: not listed, not accepted, not revoked; housekeeping deletes it and frees its place.
    const stale = await kit.invited(owner, orgId, bob.email);
    await InvitationModel.updateOne({ _id: stale.invitation.id }, { $set: { expiresAt: new Date(Date.now() - 1000) } });
    expect((await kit.list(owner, orgId)).body.data!.invitations).toEqual([]);
    expect(codes(await kit.accept(bob, stale.token))).toEqual(['BAD_USER_INPUT']);
    expect((await kit.revoke(owner, stale.invitation.id)).body.data!.revokeInvitation).toBe(false);
    expect((await OrganizationModel.findById(orgId).lean())!.pendingInvitations).toBe(1);
    expect(await deleteExpiredInvitations()).toBe(1);
    expect(await InvitationModel.exists({ _id: stale.invitation.id })).toBeNull();
    expect((await OrganizationModel.findById(orgId).lean())!.pendingInvitations).toBe(0);
    // The replaced and the revoked one stay until their own expiry (a late revoke answers false).
    expect(await InvitationModel.countDocuments({ orgId })).toBe(2);
  });

  it('answer false to a revoke after the accept, and change nothing', async () => {
    const { owner, orgId, bob } = await setUp();
    const { invitation, token } = await kit.invited(owner, orgId, bob.email);
    expect(codes(await kit.accept(bob, token))).toEqual([]);
    expect((await kit.revoke(owner, invitation.id)).body.data!.revokeInvitation).toBe(false);
    expect((await t.gql(ONE_ORG, { id: orgId }, bob.auth)).body.data!.organization).toMatchObject({
      myRole: 'MEMBER',
    });
  });

  it('refuse a member address (CONFLICT ALREADY_MEMBER) and a malformed one (BAD_USER_INPUT)', async () => {
    const { owner, orgId, bob } = await setUp();
    await kit.join(owner, orgId, bob, 'MEMBER');
    const again = await kit.invite(owner, orgId, ` ${bob.email.toUpperCase()}`);
    expect([codes(again), reasons(again)]).toEqual([['CONFLICT'], ['ALREADY_MEMBER']]);
    expect(codes(await kit.invite(owner, orgId, owner.email))).toEqual(['CONFLICT']);
    const bad = await kit.invite(owner, orgId, 'not-an-address');
    expect([codes(bad), bad.body.errors![0]!.extensions!.field]).toEqual([['BAD_USER_INPUT'], 'email']);
  });

  it('use an invitation up when its address became a member meanwhile, and keep it when the organization is full', async () => {
    const { owner, orgId, bob } = await setUp();
    const { token } = await kit.invited(owner, orgId, bob.email, 'ADMIN');
    await OrganizationModel.updateOne({ _id: orgId }, { $set: { memberCount: 1000 } });
    const full = await kit.accept(bob, token);
    expect([codes(full), reasons(full)]).toEqual([['CONFLICT'], ['MEMBER_LIMIT']]);
    await OrganizationModel.updateOne({ _id: orgId }, { $set: { memberCount: 1 } });
    expect(await addMember(orgId, bob.id, OrgRole.VIEWER)).toBe('added');
    // Already a member: the organization comes back, the role stays, the invitation is used.
    expect((await kit.accept(bob, token)).body.data!.acceptInvitation).toMatchObject({ myRole: 'VIEWER' });
    expect(codes(await kit.accept(bob, token))).toEqual(['BAD_USER_INPUT']);
    expect((await OrganizationModel.findById(orgId).lean())!.pendingInvitations).toBe(0);
  });
});

describe('who manages invitations', () => {
  it('OWNER and ADMIN (and site ADMINs); VIEWER and MEMBER are FORBIDDEN, non-members NOT_FOUND', async () => {
    const { owner, orgId, bob } = await setUp();
    const [admin, member, viewer, stranger] = [await kit.user(), await kit.user(), await kit.user(), await kit.user()];
    await kit.join(owner, orgId, admin, 'ADMIN');
    await kit.join(admin, orgId, member, 'MEMBER');
    await kit.join(admin, orgId, viewer, 'VIEWER');
    const { invitation } = await kit.invited(admin, orgId, bob.email, 'ADMIN');
    expect((await kit.list(owner, orgId)).body.data!.invitations).toEqual([invitation]);
    for (const low of [member, viewer]) {
      for (const res of [
        await kit.list(low, orgId),
        await kit.invite(low, orgId, uniqueEmail()),
        await kit.revoke(low, invitation.id),
      ])
        expect([codes(res), reasons(res)]).toEqual([['FORBIDDEN'], ['ORG_ROLE']]);
    }
    for (const res of [
      await kit.list(stranger, orgId),
      await kit.invite(stranger, orgId, uniqueEmail()),
      await kit.revoke(stranger, invitation.id),
      await kit.list(stranger, 'not-an-id'),
      await kit.revoke(owner, '0123456789abcdef01234567'),
    ])
      expect(codes(res)).toEqual(['NOT_FOUND']);
    expect(codes(await t.gql('query($o: ID!) { invitations(orgId: $o) { id } }', { o: orgId }))).toEqual([
      'UNAUTHENTICATED',
    ]);
    const siteAdmin = await logIn(t, ADMIN_EMAIL, ADMIN_PASSWORD);
    const asSiteAdmin = { ...stranger, auth: bearer(siteAdmin.accessToken) };
    expect((await kit.list(asSiteAdmin, orgId)).body.data!.invitations).toEqual([invitation]);
  });

  it('are out of reach of API keys, whatever their scopes', async () => {
    const { owner, orgId, bob } = await setUp();
    const keyOf = async (account: Account): Promise<Account> => {
      const created = await t.gql(
        'mutation($i: CreateApiKeyInput!) { createApiKey(input: $i) { secret } }',
        { i: { name: 'all', scopes: ['ITEMS_READ', 'ITEMS_WRITE'] } },
        account.auth,
      );
      return { ...account, auth: bearer(created.body.data!.createApiKey.secret as string) };
    };
    const [ownerKey, bobKey] = [await keyOf(owner), await keyOf(bob)];
    const { invitation, token } = await kit.invited(owner, orgId, bob.email);
    for (const res of [
      await kit.list(ownerKey, orgId),
      await kit.invite(ownerKey, orgId, uniqueEmail()),
      await kit.revoke(ownerKey, invitation.id),
      await kit.accept(bobKey, token),
    ])
      expect(codes(res)).toEqual(['FORBIDDEN']);
    expect((await kit.list(owner, orgId)).body.data!.invitations).toEqual([invitation]);
    expect(codes(await kit.accept(bob, token))).toEqual([]);
  });

  it('only an OWNER invites an OWNER or revokes an invitation to OWNER', async () => {
    const { owner, orgId, bob } = await setUp();
    const admin = await kit.user();
    await kit.join(owner, orgId, admin, 'ADMIN');
    const refused = await kit.invite(admin, orgId, bob.email, 'OWNER');
    expect([codes(refused), reasons(refused)]).toEqual([['FORBIDDEN'], ['ORG_ROLE']]);
    expect(kit.invitationMails(bob.email)).toHaveLength(0);
    const { invitation, token } = await kit.invited(owner, orgId, bob.email, 'OWNER');
    expect(codes(await kit.revoke(admin, invitation.id))).toEqual(['FORBIDDEN']);
    expect((await kit.accept(bob, token)).body.data!.acceptInvitation).toMatchObject({ myRole: 'OWNER' });
  });
});

describe('invitations and the audit log, deleted inviters and deleted organizations', () => {
  it('record MEMBER_INVITED and MEMBER_JOINED with their actors', async () => {
    const { owner, orgId, bob } = await setUp();
    const { invitation, token } = await kit.invited(owner, orgId, bob.email, 'ADMIN');
    await kit.accept(bob, token);
    await flushAuditEvents();
    const admin = await logIn(t, ADMIN_EMAIL, ADMIN_PASSWORD);
    const events = async (type: string, userId: string) =>
      (await t.gql(EVENTS, { f: { type, userId } }, bearer(admin.accessToken))).body.data!.auditEvents.edges.map(
        (e: { node: { details: Array<{ key: string; value: string }> } }) => ({
          ...e.node,
          details: Object.fromEntries(e.node.details.map((d) => [d.key, d.value])),
        }),
      );
    expect(await events('MEMBER_INVITED', owner.id)).toEqual([
      {
        type: 'MEMBER_INVITED',
        userId: owner.id,
        actorId: owner.id,
        email: bob.email,
        details: { orgId, invitationId: invitation.id, role: 'ADMIN' },
      },
    ]);
    expect(await events('MEMBER_JOINED', bob.id)).toEqual([
      {
        type: 'MEMBER_JOINED',
        userId: bob.id,
        actorId: bob.id,
        email: null,
        details: { orgId, role: 'ADMIN', invitationId: invitation.id, invitedBy: owner.id },
      },
    ]);
  });

  it("keep a deleted inviter's invitations (invitedBy null), and delete a deleted organization's", async () => {
    const { owner, orgId, bob } = await setUp();
    const admin = await kit.user();
    await kit.join(owner, orgId, admin, 'ADMIN');
    const { invitation, token } = await kit.invited(admin, orgId, bob.email);
    const deleted = await t.gql(
      'mutation($p: String!) { deleteAccount(currentPassword: $p) }',
      { p: admin.password },
      admin.auth,
    );
    expect(deleted.body.data!.deleteAccount).toBe(true);
    expect((await kit.list(owner, orgId)).body.data!.invitations).toEqual([{ ...invitation, invitedBy: null }]);
    expect(await deleteInvitationsOf(orgId)).toBe(2);
    expect(codes(await kit.accept(bob, token))).toEqual(['BAD_USER_INPUT']);
  });
});
