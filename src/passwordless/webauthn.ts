import { randomBytes } from 'node:crypto';
import type { AuthenticationResponseJSON, RegistrationResponseJSON } from '@simplewebauthn/server';
import { z } from 'zod';
import { atomically } from '../infra/db';
import { parseInput } from '../core/validation';
import { WebAuthnChallengeModel, type WebAuthnChallenge } from './passkey.model';

/** How long a challenge waits for its `finish…` call (the browser's timeout is the same). */
export const CHALLENGE_TTL_MS = 5 * 60_000;

/** EdDSA, ES256 and RS256, in the order authenticators should prefer them. */
export const ALGORITHMS = [-8, -7, -257];

const base64url = (max: number) =>
  z
    .string()
    .max(max, `must be at most ${max} characters`)
    .regex(/^[A-Za-z0-9_-]*$/, 'must be base64url');

/** What every browser response carries; the bytes inside are checked by @simplewebauthn/server. */
const credential = {
  id: base64url(1400).min(1),
  rawId: base64url(1400).min(1),
  type: z.literal('public-key'),
  clientExtensionResults: z.record(z.string(), z.unknown()).default({}),
  authenticatorAttachment: z.enum(['platform', 'cross-platform']).optional(),
};

const registrationSchema = z.object({
  ...credential,
  response: z.object({
    clientDataJSON: base64url(4096).min(1),
    attestationObject: base64url(16_384).min(1),
    transports: z.array(z.string().max(32)).max(10).optional(),
    // Browsers add these conveniences; the attestation object holds the same facts.
    authenticatorData: base64url(16_384).optional(),
    publicKey: base64url(4096).optional(),
    publicKeyAlgorithm: z.number().int().optional(),
  }),
});

const authenticationSchema = z.object({
  ...credential,
  response: z.object({
    clientDataJSON: base64url(4096).min(1),
    authenticatorData: base64url(4096).min(1),
    signature: base64url(2048).min(1),
    userHandle: base64url(128).optional(),
  }),
});

/** The browser's JSON from `navigator.credentials.create()`; BAD_USER_INPUT on `response` when malformed. */
export function parseRegistration(response: unknown): RegistrationResponseJSON {
  return parseInput(registrationSchema, response, 'response') as RegistrationResponseJSON;
}

/** The browser's JSON from `navigator.credentials.get()`; null when it is not one. */
export function parseAssertion(response: unknown): AuthenticationResponseJSON | null {
  const parsed = authenticationSchema.safeParse(response);
  return parsed.success ? (parsed.data as AuthenticationResponseJSON) : null;
}

/** The challenge a response answers, read from its clientDataJSON; null when there is none. */
export function challengeOf(clientDataJSON: string): string | null {
  try {
    const data: unknown = JSON.parse(Buffer.from(clientDataJSON, 'base64url').toString('utf8'));
    const challenge = (data as { challenge?: unknown } | null)?.challenge;
    return typeof challenge === 'string' && /^[A-Za-z0-9_-]{43}$/.test(challenge) ? challenge : null;
  } catch {
    return null;
  }
}

/** Stores a new challenge (32 random bytes) for a `begin…` call and answers it, base64url. */
export async function issueChallenge(purpose: WebAuthnChallenge['purpose'], userId?: string): Promise<string> {
  const challenge = randomBytes(32).toString('base64url');
  await WebAuthnChallengeModel.create({
    _id: challenge,
    purpose,
    userId: userId ?? null,
    expiresAt: new Date(Date.now() + CHALLENGE_TTL_MS),
  });
  return challenge;
}

/**
 * Uses a challenge up: of two `finish…` calls with one challenge only the first gets it. A
 * registration challenge is only for the user it was issued to. False when unknown, used, expired
 * or someone else's.
 */
export async function takeChallenge(
  challenge: string,
  purpose: WebAuthnChallenge['purpose'],
  userId?: string,
): Promise<boolean> {
  const taken = await atomically(`webauthn-challenge:${challenge}`, () =>
    WebAuthnChallengeModel.findOneAndDelete({
      _id: challenge,
      purpose,
      ...(userId ? { userId } : {}),
    }).lean<WebAuthnChallenge>(),
  );
  return !!taken && taken.expiresAt.getTime() > Date.now();
}
