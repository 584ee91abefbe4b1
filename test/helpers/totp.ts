import { Secret, TOTP } from 'otpauth';
import { bearer, signUp } from './auth';
import type { GraphQLClient } from './graphql';

const STEP_MS = 30_000;
const BEGIN = 'mutation($p: String!) { beginTotpSetup(currentPassword: $p) { secret } }';
const CONFIRM = 'mutation($c: String!) { confirmTotpSetup(code: $c) }';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The code `offset` steps from now, as an authenticator app would show it. Near the end of a
 * step it first waits for the next one, so the server sees the same step as the test did.
 */
export async function totpCode(secret: string, offset = 0): Promise<string> {
  const intoStep = Date.now() % STEP_MS;
  if (intoStep > STEP_MS - 3000) await sleep(STEP_MS - intoStep + 200);
  return TOTP.generate({ secret: Secret.fromBase32(secret), timestamp: Date.now() + offset * STEP_MS });
}

/** Starts TOTP setup for a signed-in user; returns the base32 secret. */
export async function beginSetup(t: GraphQLClient, user: { password: string; accessToken: string }): Promise<string> {
  const res = await t.gql(BEGIN, { p: user.password }, bearer(user.accessToken));
  if (!res.body.data) throw new Error(`beginTotpSetup failed: ${JSON.stringify(res.body.errors)}`);
  return (res.body.data.beginTotpSetup as { secret: string }).secret;
}

/**
 * Signs a user up (or takes one) and turns TOTP on with the previous step's code (the window
 * accepts it), so the current and next steps stay free for the test.
 */
export async function withTotp<U extends { password: string; accessToken: string }>(
  t: GraphQLClient,
  user: U,
): Promise<U & { secret: string; recoveryCodes: string[] }> {
  const secret = await beginSetup(t, user);
  const confirmed = await t.gql(CONFIRM, { c: await totpCode(secret, -1) }, bearer(user.accessToken));
  if (!confirmed.body.data) throw new Error(`confirmTotpSetup failed: ${JSON.stringify(confirmed.body.errors)}`);
  return { ...user, secret, recoveryCodes: confirmed.body.data.confirmTotpSetup as string[] };
}

export async function signUpWithTotp(t: GraphQLClient, email?: string) {
  return withTotp(t, await signUp(t, email));
}
