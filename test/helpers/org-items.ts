import type { OrgRole } from '../../src/orgs/org.model';
import { addMember } from '../../src/orgs/membership.service';
import { bearer } from './auth';
import type { GraphQLClient, GraphQLResponse } from './graphql';

/*
 * Organizations for the organization items, keys and events tests. Roles change and memberships
 * end over HTTP (setMemberRole, removeMember, by an OWNER), as they do for clients. Joining is
 * set-up: `join` adds the member as an accepted invitation does, without the mail round trip
 * (invitations themselves are tested over HTTP and SMTP in test/integration/orgs/invitations.test.ts).
 */

export const ITEM_FIELDS = 'id name category tags price version owner { id displayName } organization { id slug }';
export const CREATE_ITEM = `mutation($input: CreateItemInput!) { createItem(input: $input) { ${ITEM_FIELDS} } }`;
export const GET_ITEM = `query($id: ID!) { item(id: $id) { ${ITEM_FIELDS} } }`;
export const UPDATE_ITEM = `mutation($id: ID!, $input: UpdateItemInput!, $v: Int) {
  updateItem(id: $id, input: $input, expectedVersion: $v) { ${ITEM_FIELDS} }
}`;
export const DELETE_ITEM = 'mutation($id: ID!) { deleteItem(id: $id) }';
export const LIST_ITEMS = `query($filter: ItemFilter, $orderBy: ItemOrder, $first: Int, $after: String) {
  items(filter: $filter, orderBy: $orderBy, first: $first, after: $after) {
    totalCount edges { cursor node { ${ITEM_FIELDS} } } pageInfo { hasNextPage endCursor }
  }
}`;

export interface OrgItem {
  id: string;
  name: string;
  category: string | null;
  tags: string[];
  price: number | null;
  version: number;
  owner: { id: string; displayName: string | null };
  organization: { id: string; slug: string } | null;
}

export interface ItemPage {
  items: {
    totalCount: number;
    edges: Array<{ cursor: string; node: OrgItem }>;
    pageInfo: { hasNextPage: boolean; endCursor: string | null };
  };
}

let serial = 0;

/** Creates an organization as `token`'s user (its OWNER) and returns its id. */
export async function createOrg(client: GraphQLClient, token: string, name = 'Team'): Promise<string> {
  const slug = `${name.toLowerCase().replace(/[^a-z0-9]+/g, '-')}-${Date.now().toString(36)}-${(serial++).toString(36)}`;
  const res = await client.gql<{ createOrganization: { id: string } }>(
    'mutation($i: CreateOrganizationInput!) { createOrganization(input: $i) { id } }',
    { i: { name, slug } },
    bearer(token),
  );
  if (!res.body.data?.createOrganization) throw new Error(`createOrganization: ${JSON.stringify(res.body.errors)}`);
  return res.body.data.createOrganization.id;
}

/** Makes `userId` a member with `role` (as an accepted invitation will). */
export async function join(orgId: string, userId: string, role: OrgRole): Promise<void> {
  if ((await addMember(orgId, userId, role)) !== 'added') throw new Error('already a member');
}

export const SET_MEMBER_ROLE = `mutation($o: ID!, $u: ID!, $r: OrgRole!) {
  setMemberRole(orgId: $o, userId: $u, role: $r) { role }
}`;
export const REMOVE_MEMBER = 'mutation($o: ID!, $u: ID!) { removeMember(orgId: $o, userId: $u) }';
export const DELETE_ORG = 'mutation($id: ID!, $p: String) { deleteOrganization(id: $id, currentPassword: $p) }';

/** setMemberRole over HTTP, by `ownerToken`'s user (an OWNER there); throws unless it succeeded. */
export async function setRole(
  client: GraphQLClient,
  ownerToken: string,
  orgId: string,
  userId: string,
  role: OrgRole,
): Promise<void> {
  const res = await client.gql<{ setMemberRole: { role: OrgRole } }>(
    SET_MEMBER_ROLE,
    { o: orgId, u: userId, r: role },
    bearer(ownerToken),
  );
  if (res.body.data?.setMemberRole?.role !== role) throw new Error(`setMemberRole: ${JSON.stringify(res.body.errors)}`);
}

/** removeMember over HTTP, by `ownerToken`'s user (an OWNER there); throws unless it succeeded. */
export async function removeFromOrg(
  client: GraphQLClient,
  ownerToken: string,
  orgId: string,
  userId: string,
): Promise<void> {
  const res = await client.gql<{ removeMember: boolean }>(REMOVE_MEMBER, { o: orgId, u: userId }, bearer(ownerToken));
  if (res.body.data?.removeMember !== true) throw new Error(`removeMember: ${JSON.stringify(res.body.errors)}`);
}

/** deleteOrganization over HTTP, by its OWNER (re-authenticated with their password); throws unless it succeeded. */
export async function deleteOrg(
  client: GraphQLClient,
  owner: { accessToken: string; password: string },
  orgId: string,
): Promise<void> {
  const res = await client.gql<{ deleteOrganization: boolean }>(
    DELETE_ORG,
    { id: orgId, p: owner.password },
    bearer(owner.accessToken),
  );
  if (res.body.data?.deleteOrganization !== true)
    throw new Error(`deleteOrganization: ${JSON.stringify(res.body.errors)}`);
}

/** Creates an item and answers it, or throws with the errors. */
export async function createIn(
  client: GraphQLClient,
  headers: Record<string, string>,
  input: Record<string, unknown>,
): Promise<OrgItem> {
  const res = await client.gql<{ createItem: OrgItem }>(CREATE_ITEM, { input }, headers);
  if (!res.body.data?.createItem) throw new Error(`createItem: ${JSON.stringify(res.body.errors)}`);
  return res.body.data.createItem;
}

/** Every item of a list, paged `first` at a time; also checks that no page repeats an item. */
export async function listAll(
  client: GraphQLClient,
  headers: Record<string, string>,
  variables: Record<string, unknown>,
  first = 3,
): Promise<OrgItem[]> {
  const out: OrgItem[] = [];
  let after: string | null = null;
  for (;;) {
    const res: GraphQLResponse<ItemPage> = await client.gql<ItemPage>(
      LIST_ITEMS,
      { ...variables, first, after },
      headers,
    );
    if (!res.body.data) throw new Error(`items: ${JSON.stringify(res.body.errors)}`);
    out.push(...res.body.data.items.edges.map((e) => e.node));
    if (!res.body.data.items.pageInfo.hasNextPage) break;
    after = res.body.data.items.pageInfo.endCursor;
  }
  if (new Set(out.map((i) => i.id)).size !== out.length) throw new Error('a page repeated an item');
  return out;
}
