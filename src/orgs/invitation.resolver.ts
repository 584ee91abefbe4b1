import { Arg, Ctx, FieldResolver, ID, Mutation, Query, Resolver, Root } from 'type-graphql';
import { requireUser, type Context } from '../core/context';
import { callerOf } from '../users/user.actor';
import { userLoader } from '../users/user.loader';
import { PublicUser } from '../users/user.types';
import { acceptInvitation } from './invitation.accept';
import { Invitation } from './invitation.model';
import * as invitations from './invitation.service';
import { Organization, OrgRole } from './org.model';

@Resolver(() => Invitation)
export class InvitationResolver {
  @FieldResolver(() => PublicUser, { nullable: true, description: 'Who invited; null once that account is deleted.' })
  invitedBy(@Root() invitation: Invitation, @Ctx() ctx: Context): Promise<PublicUser | null> {
    return userLoader(ctx).load(invitation.invitedById);
  }

  @Query(() => [Invitation], {
    description: "OWNER or ADMIN: the organization's pending invitations (not accepted, revoked or expired).",
  })
  invitations(@Arg('orgId', () => ID) orgId: string, @Ctx() ctx: Context): Promise<Invitation[]> {
    return invitations.listInvitations(requireUser(ctx), orgId);
  }

  @Mutation(() => Invitation, {
    description:
      'OWNER or ADMIN (only an OWNER invites an OWNER): mails a single-use link, valid 7 days; replaces an earlier invitation to the same address.',
  })
  inviteMember(
    @Arg('orgId', () => ID) orgId: string,
    @Arg('email', () => String) email: string,
    @Arg('role', () => OrgRole) role: OrgRole,
    @Ctx() ctx: Context,
  ): Promise<Invitation> {
    return invitations.inviteMember(requireUser(ctx), { orgId, email, role }, callerOf(ctx));
  }

  @Mutation(() => Boolean, {
    description:
      'OWNER or ADMIN: true when it revoked a pending invitation; false when it was accepted or ended already.',
  })
  revokeInvitation(@Arg('id', () => ID) id: string, @Ctx() ctx: Context): Promise<boolean> {
    return invitations.revokeInvitation(requireUser(ctx), id);
  }

  @Mutation(() => Organization, {
    description: 'Joins the organization with the token from an invitation mail, signed in with that verified address.',
  })
  acceptInvitation(@Arg('token', () => String) token: string, @Ctx() ctx: Context): Promise<Organization> {
    return acceptInvitation(requireUser(ctx), token, callerOf(ctx));
  }
}
