import { Kind, parse, type OperationDefinitionNode } from 'graphql';
import { ORGANIZATIONS, START } from '../../../playground/examples';
import { invitationKit, type Account } from '../../helpers/invitations';
import { startMailbox, type Mailbox } from '../../helpers/mailbox';
import { startTestServer, type TestServer } from '../../helpers/server';
import { connectWs, type RawClient } from '../../helpers/ws';

/**
 * The playground's example documents work as written: the organization walk-through is run
 * operation by operation, in its order, as its comments tell a person to, with a real mailbox.
 */

type Data = Record<string, any>;

let mailbox: Mailbox;
let t: TestServer;
let ws: RawClient | undefined;
beforeAll(async () => {
  mailbox = await startMailbox();
  t = await startTestServer({ SMTP_URL: mailbox.url });
});
afterAll(async () => {
  ws?.close();
  await t.stop();
  await mailbox.stop();
});

/** One named operation of a document, over HTTP as GraphiQL sends it. */
async function run(document: string, operationName: string | undefined, variables: Data, as: Account): Promise<Data> {
  const res = await fetch(`${t.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...as.auth },
    body: JSON.stringify({ query: document, operationName, variables }),
  });
  const body = (await res.json()) as { data?: Data; errors?: unknown[] };
  expect({ operationName, errors: body.errors }).toEqual({ operationName, errors: undefined });
  return body.data!;
}

const operationNames = (document: string) =>
  parse(document)
    .definitions.filter((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION)
    .map((d) => d.name?.value);

describe('the playground example documents', () => {
  it('start with a query that runs for a signed-in user', async () => {
    const kit = invitationKit(t, mailbox);
    const data = await run(START, undefined, {}, await kit.user(false));
    expect(data).toMatchObject({ me: { role: 'USER' }, items: { edges: [] } });
  });

  it('walk an organization through, every operation in order', async () => {
    const kit = invitationKit(t, mailbox);
    const [owner, teammate] = [await kit.user(), await kit.user()];
    expect(operationNames(ORGANIZATIONS)).toEqual([
      'CreateTeam',
      'InviteTeammate',
      'AcceptInvitation',
      'AddTeamItem',
      'TeamItems',
      'Members',
      'MakeViewer',
      'TeamEvents',
      'DeleteTeam',
    ]);
    const step = (name: string, variables: Data, as: Account) => run(ORGANIZATIONS, name, variables, as);

    const orgId = (await step('CreateTeam', {}, owner)).createOrganization.id as string;
    await step('InviteTeammate', { orgId, email: teammate.email }, owner);
    const mail = await mailbox.waitFor((m) => m.to === teammate.email && /invited/i.test(m.subject), 30_000);
    const token = mailbox.link(mail).searchParams.get('invitation')!;
    expect((await step('AcceptInvitation', { token }, teammate)).acceptInvitation.myRole).toBe('MEMBER');
    const added = (await step('AddTeamItem', { orgId }, teammate)).createItem;
    expect(added.organization).toEqual({ slug: 'design-team' });
    expect((await step('TeamItems', { orgId }, owner)).items.totalCount).toBe(1);
    const members = (await step('Members', { orgId }, owner)).organization.members;
    expect(members.totalCount).toBe(2);
    const userId = members.edges[1].node.user.id as string;
    expect(userId).toBe(teammate.id);
    expect((await step('MakeViewer', { orgId, userId }, owner)).setMemberRole.role).toBe('VIEWER');

    // TeamEvents is a subscription: GraphiQL runs it over graphql-ws.
    ws = await connectWs(t.url, owner.auth.authorization!);
    ws.send({
      id: 'team',
      type: 'subscribe',
      payload: { query: ORGANIZATIONS, operationName: 'TeamEvents', variables: { orgId } },
    });
    ws.send({ type: 'ping' });
    await ws.next('pong');
    await step('AddTeamItem', { orgId }, owner);
    expect((await ws.event('team')).data).toMatchObject({
      itemEvents: { type: 'CREATED', item: { name: 'Brand colours' } },
    });

    expect((await step('DeleteTeam', { orgId, password: owner.password }, owner)).deleteOrganization).toBe(true);
    expect((await step('Members', { orgId }, teammate)).organization).toBeNull();
  });
});
