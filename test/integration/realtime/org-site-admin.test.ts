import { bearer, logIn, signUp, strongPassword, uniqueEmail, type Payload } from '../../helpers/auth';
import { createOrg } from '../../helpers/org-items';
import { createItem, eventually, subscribeItems } from '../../helpers/realtime';
import { startTestServer, type TestServer } from '../../helpers/server';
import { connectWs, type RawClient } from '../../helpers/ws';

/** Review attack: a site ADMIN's org stream after the ADMIN role is taken away. */

const ADMIN_EMAIL = uniqueEmail('admin');
const ADMIN_PASSWORD = strongPassword();
const SET_ROLE = 'mutation($u: ID!, $r: Role!) { setUserRole(userId: $u, role: $r) { id role } }';
const ME = '{ me { role } }';

let t: TestServer;
let admin: Payload;
const open: RawClient[] = [];
beforeAll(async () => {
  t = await startTestServer({ ADMIN_EMAIL, ADMIN_PASSWORD, WS_AUTH_RECHECK_SECONDS: '30' });
  admin = await logIn(t, ADMIN_EMAIL, ADMIN_PASSWORD);
});
afterAll(async () => {
  for (const c of open.splice(0)) c.close();
  await t.stop();
});

it("a demoted site ADMIN's stream of an organization they are not a member of stops delivering", async () => {
  const [owner, deputy] = await Promise.all([signUp(t), signUp(t)]);
  const promoted = await t.gql(SET_ROLE, { u: deputy.user.id, r: 'ADMIN' }, bearer(admin.accessToken));
  expect(promoted.body.errors).toBeUndefined();
  const orgId = await createOrg(t, owner.accessToken, 'Secret');

  const ws = await connectWs(t.url, `Bearer ${deputy.accessToken}`);
  open.push(ws);
  await subscribeItems(ws, 'org', { orgId });
  await createItem(t, owner.accessToken, { name: 'before', orgId });
  expect((await ws.event<{ itemEvents: { type: string } }>('org')).data?.itemEvents.type).toBe('CREATED');

  const demoted = await t.gql(SET_ROLE, { u: deputy.user.id, r: 'USER' }, bearer(admin.accessToken));
  expect(demoted.body.errors).toBeUndefined();
  // Same token, next request: no longer a site ADMIN, the organization is gone for them over HTTP.
  await eventually(
    async () =>
      (await t.gql<{ me: { role: string } }>(ME, {}, bearer(deputy.accessToken))).body.data?.me.role === 'USER',
    'demoted',
  );
  const overHttp = await t.gql(
    'query($id: ID!) { organization(id: $id) { id } }',
    { id: orgId },
    bearer(deputy.accessToken),
  );
  expect(overHttp.body.data).toEqual({ organization: null });
  await new Promise((r) => setTimeout(r, 1000)); // the socket's re-check after authChanged

  await createItem(t, owner.accessToken, { name: 'after the demotion: confidential', orgId });
  const leaked = await ws.event<{ itemEvents: { type: string; item: { name: string } } }>('org', 2000).then(
    (e) => e.data?.itemEvents.item?.name ?? e,
    () => null,
  );
  expect(leaked).toBeNull();
});
