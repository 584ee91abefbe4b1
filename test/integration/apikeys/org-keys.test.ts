import mongoose from 'mongoose';
import { OrgRole } from '../../../src/orgs/org.model';
import { basic, bearer, logIn, ME, signUp, strongPassword, uniqueEmail } from '../../helpers/auth';
import { codes, type GraphQLResponse } from '../../helpers/graphql';
import {
  createIn,
  createOrg,
  CREATE_ITEM,
  deleteOrg,
  DELETE_ITEM,
  GET_ITEM,
  join,
  listAll,
  LIST_ITEMS,
  REMOVE_MEMBER,
  setRole,
  UPDATE_ITEM,
  type OrgItem,
} from '../../helpers/org-items';
import { subscribeItems } from '../../helpers/realtime';
import { startTestServer, type TestServer } from '../../helpers/server';
import { connectWs, openRaw, wsUrl } from '../../helpers/ws';

const CREATE_KEY = `mutation($input: CreateApiKeyInput!) {
  createApiKey(input: $input) { apiKey { id orgId scopes } secret }
}`;
const ADMIN_EMAIL = uniqueEmail('admin');
const ADMIN_PASSWORD = strongPassword();

interface Key {
  apiKey: { id: string; orgId: string | null; scopes: string[] };
  secret: string;
}

let t: TestServer;
let admin: { accessToken: string; user: { id: string } };
beforeAll(async () => {
  // Sockets check their credential again every second: an organization key's socket closes soon after its creator goes.
  t = await startTestServer({ ADMIN_EMAIL, ADMIN_PASSWORD, WS_AUTH_RECHECK_SECONDS: '1' });
  admin = await logIn(t, ADMIN_EMAIL, ADMIN_PASSWORD);
});
afterAll(() => t.stop());

const as = (user: { accessToken: string }) => bearer(user.accessToken);
const withKey = (key: Key) => bearer(key.secret);
const refusal = (res: GraphQLResponse) => [codes(res), res.body.errors?.[0]?.extensions?.reason];

const keyRequest = (token: string, input: Record<string, unknown>) =>
  t.gql<{ createApiKey: Key }>(
    CREATE_KEY,
    { input: { name: 'org bot', scopes: ['ITEMS_READ', 'ITEMS_WRITE'], ...input } },
    bearer(token),
  );

async function createKey(token: string, input: Record<string, unknown>): Promise<Key> {
  const res = await keyRequest(token, input);
  if (!res.body.data?.createApiKey) throw new Error(`createApiKey: ${JSON.stringify(res.body.errors)}`);
  return res.body.data.createApiKey;
}

function expect401(res: GraphQLResponse) {
  expect([res.status, codes(res), res.body.errors?.[0]?.extensions?.reason]).toEqual([
    401,
    ['UNAUTHENTICATED'],
    'SESSION_REVOKED',
  ]);
}

/** A MEMBER of an organization, with its OWNER, a personal item of the member, and a second organization of the member's. */
async function setting() {
  const [owner, member, stranger] = await Promise.all([signUp(t), signUp(t), signUp(t)]);
  const orgId = await createOrg(t, owner.accessToken);
  const otherOrg = await createOrg(t, member.accessToken, 'Other');
  await join(orgId, member.user.id, OrgRole.MEMBER);
  const [ownersItem, personal, elsewhere] = await Promise.all([
    createIn(t, as(owner), { name: 'Owner item', orgId }),
    createIn(t, as(member), { name: 'Member personal' }),
    createIn(t, as(member), { name: 'Other org item', orgId: otherOrg }),
  ]);
  return { orgId, otherOrg, owner, member, stranger, ownersItem, personal, elsewhere };
}

describe('Mutation.createApiKey with orgId', () => {
  it('makes a key of any member, listed with its orgId; NOT_FOUND to others, FORBIDDEN to a site ADMIN outside it', async () => {
    const { orgId, owner, stranger } = await setting();
    const viewer = await signUp(t);
    await join(orgId, viewer.user.id, OrgRole.VIEWER);
    const key = await createKey(viewer.accessToken, { orgId: orgId.toUpperCase() });
    expect(key.apiKey.orgId).toBe(orgId);
    const listed = await t.gql('{ apiKeys { id orgId } }', {}, as(viewer));
    expect(listed.body.data!.apiKeys).toEqual([{ id: key.apiKey.id, orgId }]);
    expect(codes(await keyRequest(stranger.accessToken, { orgId }))).toEqual(['NOT_FOUND']);
    const unknown = new mongoose.Types.ObjectId().toHexString();
    expect(codes(await keyRequest(owner.accessToken, { orgId: unknown }))).toEqual(['NOT_FOUND']);
    expect(codes(await keyRequest(owner.accessToken, { orgId: 'nope' }))).toEqual(['BAD_USER_INPUT']);
    expect(refusal(await keyRequest(admin.accessToken, { orgId }))).toEqual([['FORBIDDEN'], 'ORG_ROLE']);
    // A personal key has no organization.
    expect((await createKey(owner.accessToken, {})).apiKey.orgId).toBeNull();
  });
});

describe('an organization key', () => {
  it("acts only on its organization's items: never on personal items, its creator's or anyone's, nor another organization's", async () => {
    const { orgId, otherOrg, member, ownersItem, personal, elsewhere } = await setting();
    const key = await createKey(member.accessToken, { orgId });
    // items without orgId: the key's organization, not personal items.
    expect((await listAll(t, withKey(key), {})).map((i) => i.id)).toEqual([ownersItem.id]);
    expect((await listAll(t, withKey(key), { filter: { orgId } })).map((i) => i.id)).toEqual([ownersItem.id]);
    expect(codes(await t.gql(LIST_ITEMS, { filter: { orgId: otherOrg } }, withKey(key)))).toEqual(['NOT_FOUND']);
    expect((await t.gql(GET_ITEM, { id: ownersItem.id }, withKey(key))).body.data!.item).toMatchObject({
      id: ownersItem.id,
    });
    for (const id of [personal.id, elsewhere.id])
      expect((await t.gql(GET_ITEM, { id }, withKey(key))).body).toEqual({ data: { item: null } });
    // createItem without orgId: in the key's organization.
    const made = await createIn(t, withKey(key), { name: 'Through the key' });
    expect(made).toMatchObject({ organization: { id: orgId }, owner: { id: member.user.id } });
    expect(codes(await t.gql(CREATE_ITEM, { input: { name: 'X', orgId: otherOrg } }, withKey(key)))).toEqual([
      'NOT_FOUND',
    ]);
    for (const id of [personal.id, elsewhere.id]) {
      expect(codes(await t.gql(UPDATE_ITEM, { id, input: { name: 'X' } }, withKey(key)))).toEqual(['NOT_FOUND']);
      expect(codes(await t.gql(DELETE_ITEM, { id }, withKey(key)))).toEqual(['NOT_FOUND']);
    }
    // With its creator's role there: a MEMBER changes their own items, not the OWNER's.
    const renamed = await t.gql(UPDATE_ITEM, { id: made.id, input: { name: 'Renamed' } }, withKey(key));
    expect(renamed.body.data!.updateItem).toMatchObject({ name: 'Renamed' });
    expect(refusal(await t.gql(DELETE_ITEM, { id: ownersItem.id }, withKey(key)))).toEqual([
      ['FORBIDDEN'],
      'NOT_OWNER',
    ]);
    // Scopes as for any key.
    const readOnly = await createKey(member.accessToken, { orgId, scopes: ['ITEMS_READ'] });
    expect(refusal(await t.gql(CREATE_ITEM, { input: { name: 'X' } }, withKey(readOnly)))).toEqual([
      ['FORBIDDEN'],
      'API_KEY_SCOPE',
    ]);
    // The personal items are still there for the member's own session.
    expect((await t.gql(GET_ITEM, { id: personal.id }, as(member))).body.data!.item).toMatchObject({ id: personal.id });
  });

  it('carries no site ADMIN powers, only its creator’s role in the organization', async () => {
    const { orgId, otherOrg, ownersItem, personal } = await setting();
    await join(orgId, admin.user.id, OrgRole.MEMBER);
    const key = await createKey(admin.accessToken, { orgId });
    expect(refusal(await t.gql(UPDATE_ITEM, { id: ownersItem.id, input: { name: 'X' } }, withKey(key)))).toEqual([
      ['FORBIDDEN'],
      'NOT_OWNER',
    ]);
    expect((await t.gql(GET_ITEM, { id: personal.id }, withKey(key))).body.data!.item).toBeNull();
    expect(codes(await t.gql(LIST_ITEMS, { filter: { orgId: otherOrg } }, withKey(key)))).toEqual(['NOT_FOUND']);
    expect(codes(await t.gql(DELETE_ITEM, { id: personal.id }, withKey(key)))).toEqual(['NOT_FOUND']);
    // The admin's own session keeps every power.
    expect((await t.gql(GET_ITEM, { id: personal.id }, as(admin))).body.data!.item).toMatchObject({ id: personal.id });
  });

  it("follows its creator's role at each request: demoted to VIEWER it only reads, promoted to ADMIN it changes any item", async () => {
    const { orgId, owner, member, ownersItem } = await setting();
    const key = await createKey(member.accessToken, { orgId });
    await setRole(t, owner.accessToken, orgId, member.user.id, OrgRole.VIEWER);
    const burst = await Promise.all(
      Array.from({ length: 6 }, (_, i) => t.gql(CREATE_ITEM, { input: { name: `Burst ${i}` } }, withKey(key))),
    );
    for (const res of burst) expect(refusal(res)).toEqual([['FORBIDDEN'], 'ORG_ROLE']);
    expect((await listAll(t, withKey(key), {})).map((i) => i.id)).toEqual([ownersItem.id]);
    await setRole(t, owner.accessToken, orgId, member.user.id, OrgRole.ADMIN);
    const fixed = await t.gql(UPDATE_ITEM, { id: ownersItem.id, input: { name: 'Fixed' } }, withKey(key));
    expect(fixed.body.data!.updateItem).toMatchObject({ name: 'Fixed' });
  });

  it('is refused (401) from the moment its creator is no longer a member, over HTTP and WebSocket', async () => {
    const { orgId, owner, member, ownersItem } = await setting();
    const key = await createKey(member.accessToken, { orgId });
    const personalKey = await createKey(member.accessToken, {});
    const socket = await connectWs(t.url, `Bearer ${key.secret}`);
    await subscribeItems(socket, 'key');
    // Creations through the key while the OWNER removes its creator (removeMember over HTTP): each
    // is answered, made in the organization or refused, never a server error.
    const creations = Array.from({ length: 8 }, (_, i) =>
      t.gql(CREATE_ITEM, { input: { name: `Race ${i}` } }, withKey(key)),
    );
    const removal = await t.gql(REMOVE_MEMBER, { o: orgId, u: member.user.id }, as(owner));
    expect(removal.body).toEqual({ data: { removeMember: true } });
    const made: string[] = [];
    for (const res of await Promise.all(creations)) {
      const item = res.body.data?.createItem as OrgItem | undefined;
      if (item) {
        expect(item.organization?.id).toBe(orgId);
        made.push(item.id);
      } else if (res.status === 401) expect401(res);
      else {
        expect(res.status).toBe(200);
        expect(['NOT_FOUND', 'FORBIDDEN']).toContain(codes(res).join());
      }
    }
    // After it, every use of the key is refused: HTTP (Bearer and Basic), a new socket, and the
    // open one, closed at its next credential check.
    expect401(await t.gql(CREATE_ITEM, { input: { name: 'Late' } }, withKey(key)));
    expect401(await t.gql(LIST_ITEMS, {}, withKey(key)));
    expect401(await t.gql(ME, {}, basic(key.apiKey.id, key.secret)));
    const ws = await openRaw(wsUrl(t.url));
    expect(await ws.init({ authorization: `Bearer ${key.secret}` })).toEqual({ code: 4401, reason: 'SESSION_REVOKED' });
    expect(await socket.closed).toEqual({ code: 4401, reason: 'SESSION_REVOKED' });
    // What the key made stays in the organization.
    const left = await listAll(t, as(owner), { filter: { orgId } });
    expect(left.map((i) => i.id).sort()).toEqual([ownersItem.id, ...made].sort());
    // Only that key: the member's personal key and session go on.
    expect((await t.gql(ME, {}, withKey(personalKey))).status).toBe(200);
    // Made a member again, the key stays dead: it acts only under the membership it was made in.
    await join(orgId, member.user.id, OrgRole.VIEWER);
    expect((await t.gql(LIST_ITEMS, {}, withKey(key))).status).toBe(401);
  });

  it('is refused (401) once its organization is deleted', async () => {
    const { orgId, owner, member } = await setting();
    const [ownerKey, memberKey] = await Promise.all([
      createKey(owner.accessToken, { orgId }),
      createKey(member.accessToken, { orgId }),
    ]);
    await deleteOrg(t, owner, orgId);
    for (const key of [ownerKey, memberKey]) expect401(await t.gql(LIST_ITEMS, {}, withKey(key)));
  });
});

describe('a personal key', () => {
  it('acts as its creator, in their organizations too (with their role there), and on personal items', async () => {
    const { orgId, member, ownersItem, personal } = await setting();
    const key = await createKey(member.accessToken, {});
    expect((await listAll(t, withKey(key), { filter: { orgId } })).map((i) => i.id)).toEqual([ownersItem.id]);
    expect((await listAll(t, withKey(key), { filter: { mine: true } })).map((i) => i.id)).toEqual([personal.id]);
    const made = await createIn(t, withKey(key), { name: 'Org item by personal key', orgId });
    expect(made.organization?.id).toBe(orgId);
  });
});
