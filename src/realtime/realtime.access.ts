import type { AuthUser, Context } from '../core/context';
import { NotFoundError } from '../core/errors';
import { parseObjectId } from '../core/validation';
import { atLeast, orgRoleLoader, roleIn } from '../orgs/org.access';
import { OrgRole, isLiveOrganization } from '../orgs/org.model';

const noSuchOrganization = () => new NotFoundError('No such organization');

/**
 * The organization a subscription watches: the filter's, or an organization API key's own (such
 * a key watches nothing else; another organization is NOT_FOUND). Undefined: personal items.
 */
export function watchedOrganization(caller: AuthUser, requested: string | null | undefined): string | undefined {
  const orgId = requested === null || requested === undefined ? undefined : parseObjectId(requested, 'filter.orgId');
  const keyOrg = caller.apiKey?.orgId;
  if (keyOrg === undefined) return orgId;
  if (orgId !== undefined && orgId !== keyOrg) throw noSuchOrganization();
  return keyOrg;
}

/**
 * An organization's events are for its members and site ADMINs; to anyone else it does not exist
 * (NOT_FOUND, never FORBIDDEN). Checked when the subscription starts; after that, the end of the
 * membership ends the stream (realtime.feed.ts), and a stream a site ADMIN watches without being
 * a member ends once they are no longer one (realtime.stream.ts). Answers which it was.
 */
export async function assertMayWatch(caller: AuthUser, orgId: string): Promise<'member' | 'siteAdmin'> {
  if (await roleIn(caller.id, orgId)) return 'member';
  if (caller.role === 'ADMIN' && (await isLiveOrganization(orgId))) return 'siteAdmin';
  throw noSuchOrganization();
}

/**
 * Whether the subscriber sees who changed an item. `item` and `items` name no actor, so an event
 * shows one only to those who could change the item themselves: its owner and site ADMINs, and
 * for an organization's item its ADMINs and OWNERs (their role read once per event and caller).
 */
export async function actorShownTo(
  ctx: Pick<Context, 'user' | 'loaders'>,
  event: { ownerId: string; orgId: string | null },
): Promise<boolean> {
  const caller = ctx.user;
  if (caller === null) return false;
  if (caller.role === 'ADMIN' || caller.id === event.ownerId) return true;
  if (event.orgId === null) return false;
  return atLeast(await orgRoleLoader(ctx, caller).load(event.orgId), OrgRole.ADMIN);
}
