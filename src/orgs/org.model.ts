import { getModelForClass, index, modelOptions, prop } from '@typegoose/typegoose';
import type { Types } from 'mongoose';
import { op } from '../infra/db';
import { Field, ID, ObjectType, registerEnumType } from 'type-graphql';

export enum OrgRole {
  OWNER = 'OWNER',
  ADMIN = 'ADMIN',
  MEMBER = 'MEMBER',
  VIEWER = 'VIEWER',
}
registerEnumType(OrgRole, {
  name: 'OrgRole',
  description:
    "A member's role in an organization: VIEWER reads; MEMBER also adds items; ADMIN manages items and members; OWNER also owners and the organization itself.",
});

/**
 * An organization: a group with items of its own.
 *
 * Indexes: slug (unique): clients name organizations by it; createdBy + creatorSlot (unique): an
 * organization holds one of its creator's 20 slots, so the per-user cap holds under parallel creations.
 */
@ObjectType('Organization', { description: 'A group of users with items of its own.' })
@modelOptions({ schemaOptions: { collection: 'organizations', timestamps: { createdAt: true, updatedAt: false } } })
@index({ slug: 1 }, { unique: true })
@index({ createdBy: 1, creatorSlot: 1 }, { unique: true })
export class Organization {
  @Field(() => ID, { name: 'id' })
  readonly _id!: Types.ObjectId;

  @Field({ description: '1 to 100 characters.' })
  @prop({ required: true, type: String })
  name!: string;

  @Field({ description: 'Unique; lower-case letters, digits and single hyphens, 3 to 40 characters.' })
  @prop({ required: true, type: String })
  slug!: string;

  @prop({ required: true, type: String })
  createdBy!: string;

  @prop({ required: true, type: Number })
  creatorSlot!: number;

  /**
   * Members and OWNERs, kept by conditional increments so that the member cap and the "last OWNER
   * stays" rule hold under parallel requests (a count-then-write would not).
   */
  @prop({ required: true, type: Number, default: 1 })
  memberCount!: number;

  @prop({ required: true, type: Number, default: 1 })
  ownerCount!: number;

  /** Set when deletion starts: from then on the organization is gone for every reader and writer. */
  @prop({ type: Boolean })
  deleting?: boolean;

  /**
   * Places taken by pending invitations (src/orgs/invitation.pending.ts), by the same conditional
   * increments: never fewer than the pending invitations, so the cap of 100 holds in parallel.
   */
  @prop({ required: true, type: Number, default: 0 })
  pendingInvitations!: number;

  @Field()
  readonly createdAt!: Date;
}

export const OrganizationModel = getModelForClass(Organization);

/** Organizations not being deleted (a deletion marks the organization first): the only ones anyone sees. */
export const LIVE_ORG = { deleting: op({ $ne: true }) };

/** Whether the organization exists and is not being deleted. */
export async function isLiveOrganization(orgId: string): Promise<boolean> {
  return (await OrganizationModel.exists({ _id: orgId, ...LIVE_ORG })) !== null;
}

/**
 * A user's membership of an organization, with their role in it; also the GraphQL type (its
 * `user` is resolved by MembershipResolver).
 *
 * Indexes: orgId + userId (unique): one membership each, read per request by the role checks;
 * userId + orgId: a user's organizations (and the deletion cascade); orgId + joinedAt + _id: an
 * organization's members, keyset-paged oldest first; orgId + role + joinedAt + _id: the
 * longest-standing ADMIN, who succeeds an OWNER whose account went (membership.service.ts).
 */
@ObjectType('Membership', { description: "A user's membership of an organization." })
@modelOptions({ schemaOptions: { collection: 'memberships', versionKey: false } })
@index({ orgId: 1, userId: 1 }, { unique: true })
@index({ userId: 1, orgId: 1 })
@index({ orgId: 1, joinedAt: 1, _id: 1 })
@index({ orgId: 1, role: 1, joinedAt: 1, _id: 1 })
export class Membership {
  readonly _id!: Types.ObjectId;

  @prop({ required: true, type: String })
  orgId!: string;

  @prop({ required: true, type: String })
  userId!: string;

  @Field(() => OrgRole)
  @prop({ required: true, enum: OrgRole, type: String })
  role!: OrgRole;

  @Field({ description: 'When the user became a member.' })
  @prop({ required: true, type: Date })
  joinedAt!: Date;
}

export const MembershipModel = getModelForClass(Membership);
