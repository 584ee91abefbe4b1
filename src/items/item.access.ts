import DataLoader from 'dataloader';
import type { AuthUser, Context } from '../core/context';
import { ForbiddenError, NotFoundError } from '../core/errors';
import { isObjectId } from '../core/validation';
import { op } from '../infra/db';
import { atLeast, orgRoleLoader } from '../orgs/org.access';
import { LIVE_ORG, Organization, OrganizationModel, OrgRole } from '../orgs/org.model';
import { Item, ItemModel } from './item.model';

/*
 * Who may see and change which items. Personal items: every signed-in user sees them, their
 * owner (or a site ADMIN) changes them. An organization's items: only its members (and site
 * ADMINs) know they exist; VIEWER reads, MEMBER also creates and changes their own, ADMIN and
 * OWNER change any. An organization API key acts in its organization only, with its creator's
 * role there and never with site ADMIN powers. Roles come from orgRoleLoader: one membership read
 * per request, shared by the rules and the services.
 */

type Loaders = Pick<Context, 'loaders'>;

/** The organization an API key acts in, or null (a session, or a personal key). */
export const keyOrgOf = (caller: AuthUser): string | null => caller.apiKey?.orgId ?? null;

/** Site ADMIN powers, which an organization's API key never carries. */
export const isSiteAdmin = (caller: AuthUser): boolean => caller.role === 'ADMIN' && keyOrgOf(caller) === null;

export const noSuchOrganization = () => new NotFoundError('No such organization');
export const noSuchItem = () => new NotFoundError('No such item');

/** The refusal of updateItem and deleteItem to a caller who may not change this item. */
export const notOwner = (action: 'change' | 'delete') =>
  new ForbiddenError(`Only the owner or an admin may ${action} this item`, { reason: 'NOT_OWNER' });

const roleTooLow = (what: string) =>
  new ForbiddenError(`Your role in this organization does not allow you to ${what}`, { reason: 'ORG_ROLE' });

/** Organizations by id: one read per request for all the items of a page. */
export function organizationLoader(ctx: Loaders): DataLoader<string, Organization | null> {
  let loader = ctx.loaders.get('organization') as DataLoader<string, Organization | null> | undefined;
  if (!loader) {
    loader = new DataLoader<string, Organization | null>(async (ids) => {
      const orgs = await OrganizationModel.find({ _id: op({ $in: [...ids] }), ...LIVE_ORG }).lean<Organization[]>();
      const byId = new Map(orgs.map((o) => [String(o._id), o]));
      return ids.map((id) => byId.get(id) ?? null);
    });
    ctx.loaders.set('organization', loader);
  }
  return loader;
}

type ItemHead = Pick<Item, '_id' | 'ownerId' | 'orgId'>;

/** Whose an item is, read once per request for the rule and the service that follows it. */
function itemHeadLoader(ctx: Loaders): DataLoader<string, ItemHead | null> {
  let loader = ctx.loaders.get('itemHead') as DataLoader<string, ItemHead | null> | undefined;
  if (!loader) {
    loader = new DataLoader<string, ItemHead | null>(async (ids) => {
      const heads = await ItemModel.find({ _id: op({ $in: [...ids] }) }, { ownerId: 1, orgId: 1 }).lean<ItemHead[]>();
      const byId = new Map(heads.map((h) => [String(h._id), h]));
      return ids.map((id) => byId.get(id) ?? null);
    });
    ctx.loaders.set('itemHead', loader);
  }
  return loader;
}

/**
 * The caller's standing in an organization: their role, SITE_ADMIN (not a member), or null when
 * for them it does not exist (not a member; another organization than their key's; gone).
 */
export type Standing = OrgRole | 'SITE_ADMIN' | null;

export async function standingIn(ctx: Loaders, caller: AuthUser, orgId: string): Promise<Standing> {
  const keyOrg = keyOrgOf(caller);
  if (keyOrg !== null && keyOrg !== orgId) return null;
  if (isSiteAdmin(caller)) return (await organizationLoader(ctx).load(orgId)) ? 'SITE_ADMIN' : null;
  return orgRoleLoader(ctx, caller).load(orgId);
}

/**
 * The organization a list or creation is about: the one given, else an organization key's own,
 * else null (personal items). Undefined for a malformed id (the service answers BAD_USER_INPUT).
 */
export function targetOrg(caller: AuthUser, given: string | null | undefined): string | null | undefined {
  if (given === null || given === undefined) return keyOrgOf(caller);
  return isObjectId(given) ? given.toLowerCase() : undefined;
}

/** `items(filter: {orgId})`: null when the caller may list, else NOT_FOUND. */
export async function listRefusal(ctx: Loaders, caller: AuthUser, given?: string | null): Promise<Error | null> {
  const orgId = targetOrg(caller, given);
  if (!orgId) return null;
  return (await standingIn(ctx, caller, orgId)) === null ? noSuchOrganization() : null;
}

/** `createItem(input: {orgId})`: MEMBER or above; null when the caller may create there. */
export async function createRefusal(ctx: Loaders, caller: AuthUser, given?: string | null): Promise<Error | null> {
  const orgId = targetOrg(caller, given);
  if (!orgId) return null;
  const standing = await standingIn(ctx, caller, orgId);
  if (standing === null) return noSuchOrganization();
  if (standing === OrgRole.VIEWER) return roleTooLow('create items');
  return null;
}

/** `item(id)`: personal items for anyone but an organization key; an organization's for those who see it. */
export async function maySee(ctx: Loaders, caller: AuthUser, item: Pick<Item, 'orgId'>): Promise<boolean> {
  if (!item.orgId) return keyOrgOf(caller) === null;
  return (await standingIn(ctx, caller, item.orgId)) !== null;
}

/**
 * What the single conditional write of updateItem or deleteItem must also match, or why the
 * caller may not make it. The owner is part of the condition when only ownership allows it (a
 * personal item, an organization's MEMBER), the organization when a role does. A missing item
 * gets no condition: the write finds nothing and the service answers NOT_FOUND. The role is the
 * one read for this request: a member demoted while the request runs is demoted for the next one.
 */
export type WriteAccess = { filter: Record<string, string | null> } | { refusal: Error };

export async function writeAccess(
  ctx: Loaders,
  caller: AuthUser,
  id: string,
  action: 'change' | 'delete',
): Promise<WriteAccess> {
  if (isSiteAdmin(caller)) return { filter: {} };
  const head = isObjectId(id) ? await itemHeadLoader(ctx).load(id.toLowerCase()) : null;
  if (!head) return { filter: {} };
  const own = head.ownerId === caller.id;
  if (!head.orgId) {
    // An organization key never touches personal items: to it they do not exist.
    if (keyOrgOf(caller) !== null) return { refusal: noSuchItem() };
    return own ? { filter: { ownerId: caller.id } } : { refusal: notOwner(action) };
  }
  const orgId = head.orgId;
  const standing = await standingIn(ctx, caller, orgId);
  if (standing === null) return { refusal: noSuchItem() };
  if (standing === 'SITE_ADMIN' || atLeast(standing, OrgRole.ADMIN)) return { filter: { orgId } };
  if (standing === OrgRole.MEMBER)
    return own ? { filter: { orgId, ownerId: caller.id } } : { refusal: notOwner(action) };
  return { refusal: roleTooLow(`${action} items`) };
}
