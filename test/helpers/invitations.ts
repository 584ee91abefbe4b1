import { bearer, signUp } from './auth';
import { codes, type GraphQLResponse } from './graphql';
import type { Mailbox, ReceivedMail } from './mailbox';
import type { TestServer } from './server';

export const INVITATION_FIELDS = 'id email role expiresAt invitedBy { id }';
export const INVITE = `mutation($o: ID!, $e: String!, $r: OrgRole!) {
  inviteMember(orgId: $o, email: $e, role: $r) { ${INVITATION_FIELDS} } }`;
export const INVITATIONS = `query($o: ID!) { invitations(orgId: $o) { ${INVITATION_FIELDS} } }`;
export const REVOKE = 'mutation($id: ID!) { revokeInvitation(id: $id) }';
export const ACCEPT = 'mutation($t: String!) { acceptInvitation(token: $t) { id name myRole } }';
const CREATE_ORG = 'mutation($i: CreateOrganizationInput!) { createOrganization(input: $i) { id } }';
const VERIFY = 'mutation($t: String!) { verifyEmail(token: $t) { id } }';
const INVITATION_SUBJECT = 'You are invited to join an organization';

export type OrgRoleName = 'OWNER' | 'ADMIN' | 'MEMBER' | 'VIEWER';

export interface Account {
  id: string;
  email: string;
  password: string;
  /** Bearer headers of the account's session. */
  auth: Record<string, string>;
}

export interface InvitationView {
  id: string;
  email: string;
  role: OrgRoleName;
  expiresAt: string;
  invitedBy: { id: string } | null;
}

let serial = 0;
/** A suite that sends a hundred invitations keeps the mail worker busy for a while. */
const WAIT = 30_000;

/** Users, organizations and invitations over HTTP, with invitation mails read from a real SMTP mailbox. */
export function invitationKit(t: TestServer, mailbox: Mailbox) {
  /** The token of an invitation link: the default link's `invitation` parameter, or `token`. */
  const linkToken = (mail: ReceivedMail) =>
    mailbox.link(mail).searchParams.get('invitation') ?? mailbox.linkToken(mail);

  const invitationMails = (email: string) =>
    mailbox.messages.filter((m) => m.to === email.trim().toLowerCase() && m.subject === INVITATION_SUBJECT);

  /** A new account; verified unless asked otherwise (through the real verification mail). */
  async function user(verified = true): Promise<Account> {
    const u = await signUp(t);
    const account = { id: u.user.id, email: u.email, password: u.password, auth: bearer(u.accessToken) };
    if (!verified) return account;
    const mail = await mailbox.waitFor((m) => m.to === u.email && m.subject === 'Confirm your email address', WAIT);
    const res = await t.gql(VERIFY, { t: mailbox.linkToken(mail) });
    if (res.body.errors) throw new Error(`verifyEmail failed: ${JSON.stringify(res.body.errors)}`);
    return account;
  }

  async function org(owner: Account): Promise<string> {
    const slug = `inv-${Date.now().toString(36)}-${(serial++).toString(36)}`;
    const res = await t.gql<{ createOrganization: { id: string } }>(
      CREATE_ORG,
      { i: { name: 'Northwind Traders', slug } },
      owner.auth,
    );
    if (!res.body.data) throw new Error(`createOrganization failed: ${JSON.stringify(res.body.errors)}`);
    return res.body.data.createOrganization.id;
  }

  const invite = (by: Account, orgId: string, email: string, role: OrgRoleName = 'MEMBER') =>
    t.gql<{ inviteMember: InvitationView }>(INVITE, { o: orgId, e: email, r: role }, by.auth);

  /** Invites and answers the invitation and the link token from the mail that arrived for it. */
  async function invited(by: Account, orgId: string, email: string, role: OrgRoleName = 'MEMBER') {
    const before = invitationMails(email).length;
    const res = await invite(by, orgId, email, role);
    if (!res.body.data) throw new Error(`inviteMember failed: ${JSON.stringify(res.body.errors)}`);
    await mailbox.waitFor(() => invitationMails(email).length > before, WAIT);
    const mail = invitationMails(email).at(-1)!;
    return { invitation: res.body.data.inviteMember, token: linkToken(mail), mail };
  }

  const accept = (as: Account | null, token: string): Promise<GraphQLResponse> =>
    t.gql(ACCEPT, { t: token }, as ? as.auth : {});

  /** Makes `member` a member of the organization with `role`, through an accepted invitation. */
  async function join(by: Account, orgId: string, member: Account, role: OrgRoleName): Promise<void> {
    const { token } = await invited(by, orgId, member.email, role);
    const res = await accept(member, token);
    if (codes(res).length) throw new Error(`acceptInvitation failed: ${JSON.stringify(res.body.errors)}`);
  }

  const list = (by: Account, orgId: string) =>
    t.gql<{ invitations: InvitationView[] }>(INVITATIONS, { o: orgId }, by.auth);
  const revoke = (by: Account, id: string) => t.gql<{ revokeInvitation: boolean }>(REVOKE, { id }, by.auth);

  return { user, org, invite, invited, accept, join, list, revoke, invitationMails };
}

/** The `extensions.reason` of each error. */
export function reasons(res: GraphQLResponse): unknown[] {
  return (res.body.errors ?? []).map((e) => e.extensions?.reason);
}
