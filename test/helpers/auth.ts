import { randomBytes } from 'node:crypto';
import type { GraphQLClient } from './graphql';

export const AUTH_FIELDS = 'accessToken refreshToken tokenType expiresIn user { id email role disabled createdAt }';

export interface Payload {
  accessToken: string;
  refreshToken: string;
  tokenType: string;
  expiresIn: number;
  user: { id: string; email: string; role: string; disabled: boolean; createdAt: string };
}

/** A password the strength check accepts, different on every call. */
export const strongPassword = (): string => `Quiet-Harbor-${randomBytes(6).toString('hex')}`;

export const uniqueEmail = (prefix = 'user'): string => `${prefix}-${randomBytes(5).toString('hex')}@example.com`;

export const bearer = (token: string): Record<string, string> => ({ authorization: `Bearer ${token}` });

export const basic = (email: string, password: string): Record<string, string> => ({
  authorization: `Basic ${Buffer.from(`${email}:${password}`).toString('base64')}`,
});

export const REGISTER = `mutation Register($input: RegisterInput!) { register(input: $input) { ${AUTH_FIELDS} } }`;
export const LOGIN = `mutation Login($input: LoginInput!) { login(input: $input) { ${AUTH_FIELDS} } }`;
export const REFRESH = `mutation Refresh($t: String!) { refreshToken(refreshToken: $t) { ${AUTH_FIELDS} } }`;
export const ME = '{ me { id email role disabled } }';

/** Registers a fresh user and returns its credentials and first token pair. */
export async function signUp(
  client: GraphQLClient,
  email = uniqueEmail(),
  password = strongPassword(),
  headers: Record<string, string> = {},
): Promise<Payload & { email: string; password: string }> {
  const res = await client.gql<{ register: Payload }>(REGISTER, { input: { email, password } }, headers);
  if (!res.body.data?.register) throw new Error(`register failed: ${JSON.stringify(res.body.errors)}`);
  return { ...res.body.data.register, email, password };
}

export async function logIn(client: GraphQLClient, email: string, password: string): Promise<Payload> {
  const res = await client.gql<{ login: Payload }>(LOGIN, { input: { email, password } });
  if (!res.body.data?.login) throw new Error(`login failed: ${JSON.stringify(res.body.errors)}`);
  return res.body.data.login;
}
