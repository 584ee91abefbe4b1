import { flushAuditEvents } from '../../../src/audit/audit.service';
import { AuditEventModel } from '../../../src/audit/audit.model';
import { deleteCounter } from '../../../src/infra/rate-limit';
import { InvitationModel, InvitationState } from '../../../src/orgs/invitation.model';
import { MembershipModel, OrganizationModel } from '../../../src/orgs/org.model';
import { uniqueEmail } from '../../helpers/auth';
import { codes } from '../../helpers/graphql';
import { invitationKit, type Account, reasons } from '../../helpers/invitations';
import { startMailbox, type Mailbox } from '../../helpers/mailbox';
import { startTestServer, type TestServer } from '../../helpers/server';

const ONE_ORG = 'query($id: ID!) { organization(id: $id) { id } }';

let mailbox: Mailbox;
let t: TestServer;
let kit: ReturnType<typeof invitationKit>;
beforeAll(async () => {
  mailbox = await startMailbox();
  t = await startTestServer({ SMTP_URL: mailbox.url });
  kit = invitationKit(t, mailbox);
});
afterAll(async () => {
  await t.stop();
  await mailbox.stop();
});

const pendingPlaces = async (orgId: string) => (await OrganizationModel.findById(orgId).lean())!.pendingInvitations;
const pendingDocs = (orgId: string) => InvitationModel.countDocuments({ orgId, state: InvitationState.PENDING });
/** Starts the organization's and the inviter's mail hour afresh, so a test can send more than 20 invitations. */
const newHour = (orgId: string, inviter: Account) =>
  Promise.all([deleteCounter(`invitation:org:${orgId}`), deleteCounter(`invitation:user:${inviter.id}`)]);

describe('invitation limits', () => {
  it('send at most 20 invitation mails per organization, and per inviter, per hour (TOO_MANY_REQUESTS)', async () => {
    const owner = await kit.user();
    const otherOwner = await kit.user();
    const [orgId, ownersOtherOrg, otherOrg] = [await kit.org(owner), await kit.org(owner), await kit.org(otherOwner)];
    const emails = Array.from({ length: 21 }, () => uniqueEmail('throttled'));
    const results = await Promise.all(emails.map((e) => kit.invite(owner, orgId, e)));
    expect(results.filter((r) => r.body.data?.inviteMember)).toHaveLength(20);
    const refused = results.filter((r) => codes(r).length > 0);
    expect(refused.map(codes)).toEqual([['TOO_MANY_REQUESTS']]);
    expect(Number(refused[0]!.body.errors![0]!.extensions!.retryAfter)).toBeGreaterThan(3500);
    const refusedEmail = emails[results.indexOf(refused[0]!)]!;
    await mailbox.waitFor(() => emails.filter((e) => kit.invitationMails(e).length === 1).length === 20, 30_000);
    expect(kit.invitationMails(refusedEmail)).toHaveLength(0);
    // A refused invitation is not written; another organization has its own hour, but the inviter
    // has used theirs: a second organization (or a deleted and re-created one) sends no more.
    expect(await pendingDocs(orgId)).toBe(20);
    expect(await pendingPlaces(orgId)).toBe(20);
    expect(codes(await kit.invite(otherOwner, otherOrg, refusedEmail))).toEqual([]);
    expect(codes(await kit.invite(owner, ownersOtherOrg, refusedEmail))).toEqual(['TOO_MANY_REQUESTS']);
    expect(await pendingDocs(ownersOtherOrg)).toBe(0);
  });

  it('keep at most 100 pending invitations per organization under parallel invites (CONFLICT INVITATION_LIMIT)', async () => {
    const owner = await kit.user();
    const orgId = await kit.org(owner);
    for (let batch = 0; batch < 4; batch += 1) {
      await newHour(orgId, owner);
      const made = await Promise.all(Array.from({ length: 20 }, () => kit.invite(owner, orgId, uniqueEmail('cap'))));
      expect(made.flatMap(codes)).toEqual([]);
    }
    await newHour(orgId, owner);
    await Promise.all(Array.from({ length: 10 }, () => kit.invite(owner, orgId, uniqueEmail('cap'))));
    // 90 pending: of 20 parallel invites, exactly 10 get a place.
    await newHour(orgId, owner);
    const race = await Promise.all(Array.from({ length: 20 }, () => kit.invite(owner, orgId, uniqueEmail('cap'))));
    expect(race.filter((r) => r.body.data?.inviteMember)).toHaveLength(10);
    const refused = race.filter((r) => codes(r).length > 0);
    expect(refused.map(codes)).toEqual(Array(10).fill(['CONFLICT']));
    expect(new Set(refused.flatMap(reasons))).toEqual(new Set(['INVITATION_LIMIT']));
    expect(await pendingDocs(orgId)).toBe(100);
    expect(await pendingPlaces(orgId)).toBe(100);
    expect((await kit.list(owner, orgId)).body.data!.invitations).toHaveLength(100);

    // Replacing a pending invitation at the cap takes no new place.
    const listed = (await kit.list(owner, orgId)).body.data!.invitations;
    expect(codes(await kit.invite(owner, orgId, listed[0]!.email, 'ADMIN'))).toEqual([]);
    // A revoked invitation gives its place back; so does an expired one, reclaimed on the next invite.
    expect((await kit.revoke(owner, listed[1]!.id)).body.data!.revokeInvitation).toBe(true);
    expect(codes(await kit.invite(owner, orgId, uniqueEmail('cap')))).toEqual([]);
    expect(codes(await kit.invite(owner, orgId, uniqueEmail('cap')))).toEqual(['CONFLICT']);
    await InvitationModel.updateOne({ _id: listed[2]!.id }, { $set: { expiresAt: new Date(Date.now() - 1) } });
    expect(codes(await kit.invite(owner, orgId, uniqueEmail('cap')))).toEqual([]);
    expect(await InvitationModel.exists({ _id: listed[2]!.id })).toBeNull();
    expect([await pendingDocs(orgId), await pendingPlaces(orgId)]).toEqual([100, 100]);
  });

  it('leave one pending invitation when the same address is invited in parallel', async () => {
    const owner = await kit.user();
    const orgId = await kit.org(owner);
    const email = uniqueEmail('twice');
    const made = await Promise.all(Array.from({ length: 6 }, () => kit.invite(owner, orgId, email)));
    expect(made.flatMap(codes)).toEqual([]);
    expect([await pendingDocs(orgId), await pendingPlaces(orgId)]).toEqual([1, 1]);
  });
});

describe('invitations in parallel', () => {
  it('let exactly one of two parallel accepts join', async () => {
    const owner = await kit.user();
    const orgId = await kit.org(owner);
    for (let round = 0; round < 3; round += 1) {
      const bob = await kit.user();
      const { invitation, token } = await kit.invited(owner, orgId, bob.email);
      const [a, b] = await Promise.all([kit.accept(bob, token), kit.accept(bob, token)]);
      expect([codes(a), codes(b)].sort()).toEqual([[], ['BAD_USER_INPUT']]);
      expect(await MembershipModel.countDocuments({ orgId, userId: bob.id })).toBe(1);
      await flushAuditEvents();
      const joined = await AuditEventModel.countDocuments({ type: 'MEMBER_JOINED', userId: bob.id });
      expect(joined).toBe(1);
      expect((await InvitationModel.findById(invitation.id).lean())!.state).toBe(InvitationState.ACCEPTED);
    }
    expect(await pendingPlaces(orgId)).toBe(0);
  });

  it('let exactly one of an accept and a revoke racing win, never both', async () => {
    const owner = await kit.user();
    const orgId = await kit.org(owner);
    const outcomes: string[] = [];
    for (let round = 0; round < 6; round += 1) {
      const bob = await kit.user();
      const { invitation, token } = await kit.invited(owner, orgId, bob.email);
      const [accepted, revoked] = await Promise.all([kit.accept(bob, token), kit.revoke(owner, invitation.id)]);
      const member = (await t.gql(ONE_ORG, { id: orgId }, bob.auth)).body.data!.organization !== null;
      if (revoked.body.data!.revokeInvitation) {
        expect([codes(accepted), member]).toEqual([['BAD_USER_INPUT'], false]);
        outcomes.push('revoked');
      } else {
        expect([codes(accepted), member]).toEqual([[], true]);
        outcomes.push('accepted');
      }
      // Either way the link is dead now.
      expect(codes(await kit.accept(bob, token))).toEqual(['BAD_USER_INPUT']);
    }
    expect(outcomes).toHaveLength(6);
    expect(await pendingPlaces(orgId)).toBe(0);
  });
});
