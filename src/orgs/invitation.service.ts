import { randomBytes } from 'node:crypto';
import { audit } from '../auth/auth.audit';
import type { AuthUser, Caller } from '../core/context';
import { sha256 } from '../core/crypto';
import { ConflictError, ForbiddenError, NotFoundError, TooManyRequestsError } from '../core/errors';
import { emailSchema, isObjectId, parseInput } from '../core/validation';
import { op } from '../infra/db';
import { countInWindow, countRefusal, uncount } from '../infra/rate-limit';
import { queueMail } from '../mail/mail.service';
import { User, UserModel } from '../users/user.model';
import { Invitation, InvitationModel, InvitationState } from './invitation.model';
import {
  MAX_PENDING_INVITATIONS,
  noSuchOrganization,
  releasePlaces,
  replacePending,
  revokePending,
  takePlace,
} from './invitation.pending';
import { atLeast, roleIn } from './org.access';
import { OrgEvent } from './org.audit';
import { LIVE_ORG, MembershipModel, Organization, OrganizationModel, OrgRole, isLiveOrganization } from './org.model';

/** How long an invitation's link works. */
export const INVITATION_TTL_SECONDS = 7 * 86_400;
/** Invitation mails one organization may send per hour (the `invitation` rate limit). */
export const INVITATION_MAILS_PER_HOUR = 20;

const noSuchInvitation = () => new NotFoundError('No such invitation');

/**
 * The organization `rawId` names, for a caller who manages its invitations: an OWNER or ADMIN
 * of it, or a site ADMIN (who acts as an OWNER). `notFound` for anyone else who is not a member
 * (ids reveal nothing); FORBIDDEN `ORG_ROLE` for a VIEWER or MEMBER.
 */
async function managedOrg(
  me: AuthUser,
  rawId: string,
  notFound = noSuchOrganization,
): Promise<{ org: Organization; role: OrgRole }> {
  if (!isObjectId(rawId)) throw notFound();
  const orgId = rawId.toLowerCase();
  const siteAdmin = me.role === 'ADMIN';
  const role = await roleIn(me.id, orgId);
  if (!role && !siteAdmin) throw notFound();
  const org = await OrganizationModel.findOne({ _id: orgId, ...LIVE_ORG }).lean<Organization>();
  if (!org) throw notFound();
  if (siteAdmin) return { org, role: OrgRole.OWNER };
  if (!atLeast(role, OrgRole.ADMIN))
    throw new ForbiddenError('Only an OWNER or ADMIN of the organization may manage its invitations', {
      reason: 'ORG_ROLE',
    });
  return { org, role: role! };
}

/** `invitations`: the organization's pending invitations that have not expired, soonest to expire first. */
export async function listInvitations(me: AuthUser, orgId: string): Promise<Invitation[]> {
  const { org } = await managedOrg(me, orgId);
  return InvitationModel.find({
    orgId: String(org._id),
    state: InvitationState.PENDING,
    expiresAt: op({ $gt: new Date() }),
  })
    .sort({ expiresAt: 1 })
    .limit(MAX_PENDING_INVITATIONS)
    .lean<Invitation[]>();
}

/**
 * `inviteMember`: mails `email` a single-use link to join with `role`. The newest invitation to
 * an address replaces the older ones. CONFLICT `ALREADY_MEMBER` for a member's address,
 * `INVITATION_LIMIT` past 100 pending; TOO_MANY_REQUESTS past 20 mails an hour.
 */
export async function inviteMember(
  me: AuthUser,
  input: { orgId: string; email: string; role: OrgRole },
  caller: Caller,
): Promise<Invitation> {
  const email = parseInput(emailSchema, input.email, 'email');
  const { org, role: mine } = await managedOrg(me, input.orgId);
  // ADMINs manage MEMBERs, VIEWERs and ADMINs; an OWNER's place is an OWNER's to give.
  if (input.role === OrgRole.OWNER && mine !== OrgRole.OWNER)
    throw new ForbiddenError('Only an OWNER may invite an OWNER', { reason: 'ORG_ROLE' });
  const orgId = String(org._id);
  await refuseMember(orgId, email);
  if (mine !== OrgRole.OWNER) await refuseOwnerInvitationReplacement(orgId, email);
  const throttleKeys = await throttleInvitationMail(orgId, me.id);
  try {
    // A pending invitation to this address gives its place to the new one; else a new place.
    const { length: replaced } = (await replacePending(orgId, email)).replaced;
    if (replaced === 0) await takePlace(orgId);
    else await releasePlaces(orgId, replaced - 1);
  } catch (err) {
    await Promise.all(throttleKeys.map((key) => uncount(key)));
    throw err;
  }
  const token = randomBytes(32).toString('base64url');
  const invitation = await writeInvitation({ orgId, email, role: input.role, token, invitedById: me.id });
  // Replaced at once by one sent in parallel to the same address: that one's mail is the live one.
  if (invitation.state === InvitationState.PENDING)
    await queueMail(
      caller.config,
      {
        to: email,
        template: 'invitation',
        data: { token, role: input.role, expiresInMinutes: INVITATION_TTL_SECONDS / 60 },
      },
      caller.logger,
    );
  audit(caller, OrgEvent.MEMBER_INVITED, {
    userId: me.id,
    actorId: me.id,
    email,
    details: { orgId, invitationId: String(invitation._id), role: input.role },
  });
  return invitation;
}

/** CONFLICT when the address belongs to a member already (nothing to invite them to). */
async function refuseMember(orgId: string, email: string): Promise<void> {
  const user = await UserModel.findOne({ email }, { _id: 1 }).lean<Pick<User, '_id'>>();
  if (user && (await MembershipModel.exists({ orgId, userId: String(user._id) })))
    throw new ConflictError('This address belongs to a member of the organization already', {
      reason: 'ALREADY_MEMBER',
    });
}

/**
 * An ADMIN may not revoke an invitation to OWNER, so may not replace one either (a newer
 * invitation to the address would): FORBIDDEN `ORG_ROLE`.
 */
async function refuseOwnerInvitationReplacement(orgId: string, email: string): Promise<void> {
  // By the index on orgId + email + state; role and expiry are checked on the few it finds.
  const pending = await InvitationModel.find(
    { orgId, email, state: InvitationState.PENDING },
    { role: 1, expiresAt: 1 },
  ).lean<Pick<Invitation, 'role' | 'expiresAt'>[]>();
  if (pending.some((i) => i.role === OrgRole.OWNER && i.expiresAt.getTime() > Date.now()))
    throw new ForbiddenError('Only an OWNER may replace an invitation to OWNER', { reason: 'ORG_ROLE' });
}

/**
 * Counts one invitation mail for the organization and one for the inviter: at most 20 an hour
 * each (TOO_MANY_REQUESTS), so that neither many organizations nor deleting and re-creating one
 * lets a user mail more. Answers the counters' keys, to give the counts back on a refusal.
 */
async function throttleInvitationMail(orgId: string, inviterId: string): Promise<string[]> {
  const counted: string[] = [];
  for (const [key, whose] of [
    [`invitation:org:${orgId}`, 'this organization'],
    [`invitation:user:${inviterId}`, 'you'],
  ] as const) {
    const sent = await countInWindow(key, { windowSeconds: 3600, cap: INVITATION_MAILS_PER_HOUR });
    if (!sent.counted) {
      await Promise.all(counted.map((k) => uncount(k)));
      countRefusal('invitation');
      const wait = Math.ceil((sent.resetAt.getTime() - Date.now()) / 1000);
      throw new TooManyRequestsError(Math.max(1, wait), `Too many invitations from ${whose}, try again later`);
    }
    counted.push(key);
  }
  return counted;
}

/**
 * Writes the invitation into the place taken for it (given back if the write fails), then ends
 * every pending one to the address but the newest (this one, unless another was written in
 * parallel). If the organization was deleted meanwhile, its invitations were deleted before this
 * one was written: it goes too.
 */
async function writeInvitation(fields: {
  orgId: string;
  email: string;
  role: OrgRole;
  token: string;
  invitedById: string;
}): Promise<Invitation> {
  const { orgId, email, role, token, invitedById } = fields;
  const now = new Date();
  let invitation: Invitation;
  try {
    const doc = await InvitationModel.create({
      orgId,
      email,
      role,
      tokenHash: sha256(token),
      invitedById,
      state: InvitationState.PENDING,
      expiresAt: new Date(now.getTime() + INVITATION_TTL_SECONDS * 1000),
      createdAt: now,
    });
    invitation = doc.toObject();
  } catch (err) {
    await releasePlaces(orgId);
    throw err;
  }
  const { replaced, kept } = await replacePending(orgId, email, true);
  await releasePlaces(orgId, replaced.length);
  if (!(await isLiveOrganization(orgId))) {
    await InvitationModel.deleteOne({ _id: invitation._id });
    throw noSuchOrganization();
  }
  // Not the newest pending one: another request's, written in parallel, took its place.
  return kept === String(invitation._id) ? invitation : { ...invitation, state: InvitationState.REPLACED };
}

/**
 * `revokeInvitation`: true when it ended a pending invitation; false when it was accepted,
 * revoked, replaced or expired already (nothing changes). An ADMIN may not revoke an invitation
 * to OWNER (as they may not send one).
 */
export async function revokeInvitation(me: AuthUser, rawId: string): Promise<boolean> {
  if (!isObjectId(rawId)) throw noSuchInvitation();
  const invitation = await InvitationModel.findById(rawId.toLowerCase()).lean<Invitation>();
  if (!invitation) throw noSuchInvitation();
  const { role } = await managedOrg(me, invitation.orgId, noSuchInvitation);
  if (invitation.role === OrgRole.OWNER && role !== OrgRole.OWNER)
    throw new ForbiddenError('Only an OWNER may revoke an invitation to OWNER', { reason: 'ORG_ROLE' });
  return revokePending(invitation, me.id);
}

/** A deleted organization's invitations (its links stop working); answers how many went. */
export async function deleteInvitationsOf(orgId: string): Promise<number> {
  return (await InvitationModel.deleteMany({ orgId })).deletedCount;
}
