/**
 * The playground's example documents, one tab each. Every operation in them runs as written
 * (test/integration/http/playground-examples.test.ts runs them in order against a server).
 */

export const START = `# Sign in above, then run. You see yourself as a User (email, role);
# other people, such as an item's owner, are a PublicUser (id only).
query Start {
  me {
    email
    role
  }
  items(first: 5) {
    edges {
      node {
        name
        owner {
          id
        }
      }
    }
  }
}
`;

/**
 * A team from start to end. Run the operations in order with the picker on the Run button,
 * pasting ids from one answer into the variables of the next.
 */
export const ORGANIZATIONS = `# Organizations: a team with items of its own. Run these in order
# (pick each with the arrow on the Run button), updating the variables below.

# 1. Make the team: you become its OWNER. Put its id into "orgId".
mutation CreateTeam {
  createOrganization(input: { name: "Design team", slug: "design-team" }) {
    id
    slug
    myRole
  }
}

# 2. Invite a teammate by email: they get a link with a token (7 days, used once).
mutation InviteTeammate($orgId: ID!, $email: String!) {
  inviteMember(orgId: $orgId, email: $email, role: MEMBER) {
    id
    email
    role
    expiresAt
  }
}

# 3. The teammate, signed in with the invited (verified) address, accepts with the token.
mutation AcceptInvitation($token: String!) {
  acceptInvitation(token: $token) {
    id
    name
    myRole
  }
}

# 4. Any MEMBER adds items to the team; only members see them.
mutation AddTeamItem($orgId: ID!) {
  createItem(input: { name: "Brand colours", tags: ["brand"], orgId: $orgId }) {
    id
    organization {
      slug
    }
  }
}

# 5. The team's items, paged like personal ones.
query TeamItems($orgId: ID!) {
  items(filter: { orgId: $orgId }, first: 10) {
    totalCount
    edges {
      node {
        name
        owner {
          id
        }
      }
    }
  }
}

# 6. Who is in the team. Put the teammate's user id into "userId".
query Members($orgId: ID!) {
  organization(id: $orgId) {
    name
    members(first: 20) {
      totalCount
      edges {
        node {
          user {
            id
          }
          role
          joinedAt
        }
      }
    }
  }
}

# 7. Make the teammate read-only.
mutation MakeViewer($orgId: ID!, $userId: ID!) {
  setMemberRole(orgId: $orgId, userId: $userId, role: VIEWER) {
    role
  }
}

# 8. The team's item changes as they happen (members only).
subscription TeamEvents($orgId: ID!) {
  itemEvents(filter: { orgId: $orgId }) {
    type
    id
    item {
      name
    }
  }
}

# 9. Delete the team and its items: send your password (or reauthenticate first).
mutation DeleteTeam($orgId: ID!, $password: String) {
  deleteOrganization(id: $orgId, currentPassword: $password)
}
`;

/** The walk-through's variables; an invitation link's token (`?invitation=`) fills in "token". */
export function organizationsVariables(token: string | null): string {
  const variables = {
    orgId: 'the id CreateTeam answered',
    email: 'teammate@example.com',
    token: token ?? 'the token from the invitation mail',
    userId: "the teammate's id from Members",
    password: 'your password',
  };
  return `${JSON.stringify(variables, null, 2)}\n`;
}
