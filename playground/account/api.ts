/** The account pages' only channel to the API: one GraphQL POST to this origin's /graphql. */

export interface GraphQLErrorShape {
  message: string;
  extensions?: { code?: string; field?: string; reason?: string };
}

export type Result<T> = { ok: true; data: T } | { ok: false; error: GraphQLErrorShape };

const NETWORK_ERROR: GraphQLErrorShape = {
  message: 'The server could not be reached; try again in a moment',
  extensions: { code: 'NETWORK_ERROR' },
};

/**
 * Sends one operation. The token travels only in this JSON body; `content-type: application/json`
 * satisfies Apollo's CSRF prevention. `referrerPolicy` repeats the page's no-referrer header so
 * the token in the page's URL is never sent along.
 */
export async function mutate<T>(query: string, variables: Record<string, string>): Promise<Result<T>> {
  let body: { data?: T | null; errors?: GraphQLErrorShape[] };
  try {
    const res = await fetch('/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify({ query, variables }),
      credentials: 'omit',
      referrerPolicy: 'no-referrer',
      cache: 'no-store',
    });
    body = (await res.json()) as typeof body;
  } catch {
    return { ok: false, error: NETWORK_ERROR };
  }
  const error = body.errors?.[0];
  if (error || !body.data) return { ok: false, error: error ?? NETWORK_ERROR };
  return { ok: true, data: body.data };
}

/** What a person should read for an error; the codes the flows expect get their own words. */
export function describeError(error: GraphQLErrorShape): string {
  const { code, field } = error.extensions ?? {};
  if (code === 'BAD_USER_INPUT' && field === 'token') return 'This link is invalid or has expired';
  if (code === 'CONFLICT') return 'That address is already in use';
  if (code === 'INTERNAL_SERVER_ERROR') return 'Something went wrong on our side; try again later';
  return error.message;
}

/** The `token` query parameter of this page's URL. */
export function linkToken(): string | null {
  const token = new URLSearchParams(window.location.search).get('token');
  return token ? token : null;
}
