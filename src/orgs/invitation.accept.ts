import { audit } from '../auth/auth.audit';
import type { AuthUser, Caller } from '../core/context';
import { sha256 } from '../core/crypto';
import { BadUserInputError, emailNotVerified, ForbiddenError } from '../core/errors';
import { undoUnlessUserActive } from '../users/user.guard';
import { User, UserModel } from '../users/user.model';
import { Invitation, InvitationModel, InvitationState } from './invitation.model';
import { noSuchOrganization, releasePlaces, transition } from './invitation.pending';
import { addMember, dropMembership } from './membership.service';
import { OrgEvent } from './org.audit';
import { LIVE_ORG, Organization, OrganizationModel } from './org.model';

/** One answer for an unknown, used, replaced, revoked and expired link, so none can be told apart. */
const invalidInvitation = () => new BadUserInputError('token', 'This invitation is invalid or has expired');

/** A link token: 32 random bytes, base64url. */
const TOKEN = /^[A-Za-z0-9_-]{43}$/;

/** The pending, unexpired invitation of a link token, without using it. */
async function findLive(token: string): Promise<Invitation> {
  if (!TOKEN.test(token)) throw invalidInvitation();
  const invitation = await InvitationModel.findOne({ tokenHash: sha256(token) }).lean<Invitation>();
  if (!invitation || invitation.state !== InvitationState.PENDING || invitation.expiresAt.getTime() <= Date.now())
    throw invalidInvitation();
  return invitation;
}

/**
 * The caller must be the invited address, proven: read from the account as it is now (not from
 * the access token, which may predate an email change). Refusals leave the link usable.
 */
async function assertInvitee(me: AuthUser, invitation: Invitation): Promise<void> {
  const user = await UserModel.findById(me.id, { email: 1, emailVerified: 1 }).lean<
    Pick<User, 'email' | 'emailVerified'>
  >();
  if (!user || user.email !== invitation.email)
    throw new ForbiddenError('This invitation is for another email address: sign in with that address to accept it', {
      reason: 'INVITATION_EMAIL_MISMATCH',
    });
  if (!user.emailVerified) throw emailNotVerified();
}

/**
 * `acceptInvitation`: the caller joins with the invitation's role. The invitation is taken first
 * (a compare-and-set, so of two accepts, or an accept and a revoke, exactly one wins); if joining
 * then fails (the organization is full or gone) it is handed back, still pending. A caller who is
 * a member already just uses the invitation up.
 */
export async function acceptInvitation(me: AuthUser, token: string, caller: Caller): Promise<Organization> {
  const invitation = await findLive(token);
  await assertInvitee(me, invitation);
  if (!(await transition(invitation._id, InvitationState.PENDING, InvitationState.ACCEPTED, me.id, true)))
    throw invalidInvitation();
  let joined: 'added' | 'already';
  try {
    joined = await addMember(invitation.orgId, me.id, invitation.role);
  } catch (err) {
    await transition(invitation._id, InvitationState.ACCEPTED, InvitationState.PENDING, null);
    throw err;
  }
  await releasePlaces(invitation.orgId);
  if (joined === 'added') {
    // Deleted or disabled meanwhile: the cascade may have passed, so the membership goes again.
    await undoUnlessUserActive(me.id, () => dropMembership(invitation.orgId, me.id));
    audit(caller, OrgEvent.MEMBER_JOINED, {
      userId: me.id,
      actorId: me.id,
      details: {
        orgId: invitation.orgId,
        role: invitation.role,
        invitationId: String(invitation._id),
        invitedBy: invitation.invitedById,
      },
    });
  }
  const org = await OrganizationModel.findOne({ _id: invitation.orgId, ...LIVE_ORG }).lean<Organization>();
  if (!org) throw noSuchOrganization();
  return org;
}
