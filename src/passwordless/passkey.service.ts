import { randomBytes } from 'node:crypto';
import {
  generateRegistrationOptions,
  verifyRegistrationResponse,
  type PublicKeyCredentialCreationOptionsJSON,
  type VerifiedRegistrationResponse,
} from '@simplewebauthn/server';
import { z } from 'zod';
import { audit } from '../auth/auth.audit';
import { assertReauthenticated } from '../auth/reauthentication';
import type { AuthUser, Caller } from '../core/context';
import {
  BadUserInputError,
  ConflictError,
  isDuplicateKeyError,
  NotFoundError,
  UnauthenticatedError,
} from '../core/errors';
import { isObjectId, parseInput } from '../core/validation';
import { User, UserModel } from '../users/user.model';
import { undoUnlessUserActive } from '../users/user.guard';
import { insertInFreeSlot } from '../infra/slots';
import { PasswordlessEvent } from './passwordless.audit';
import { Passkey, PasskeyModel, WebAuthnChallengeModel, WebAuthnUserModel } from './passkey.model';
import type { Revocation } from '../core/module';
import {
  ALGORITHMS,
  CHALLENGE_TTL_MS,
  challengeOf,
  issueChallenge,
  parseRegistration,
  takeChallenge,
} from './webauthn';

/** Passkeys one user may have. */
export const MAX_PASSKEYS = 20;
const SLOTS = Array.from({ length: MAX_PASSKEYS }, (_, i) => String(i));

const nameSchema = z.string().trim().min(1, 'must not be empty').max(64, 'must be at most 64 characters');

/** My passkeys, oldest first. */
export function listPasskeys(userId: string): Promise<Passkey[]> {
  return PasskeyModel.find({ userId }).sort({ createdAt: 1, _id: 1 }).lean<Passkey[]>();
}

function tooMany(): ConflictError {
  return new ConflictError(`At most ${MAX_PASSKEYS} passkeys per account: delete one first`, {
    reason: 'PASSKEY_LIMIT',
  });
}

/** The user's WebAuthn user handle, made on first use (parallel first uses agree on one). */
async function userHandleOf(userId: string): Promise<string> {
  const existing = await WebAuthnUserModel.findById(userId).lean();
  if (existing) return existing.handle;
  try {
    await WebAuthnUserModel.create({ _id: userId, handle: randomBytes(32).toString('base64url') });
  } catch (err) {
    if (!isDuplicateKeyError(err)) throw err;
  }
  const made = await WebAuthnUserModel.findById(userId).lean();
  if (!made) throw new UnauthenticatedError();
  return made.handle;
}

/**
 * `beginPasskeyRegistration`: creation options for the browser (a discoverable credential with
 * user verification, no attestation), excluding the passkeys the user already has. Only inside
 * the session's re-authentication window: a stolen access token alone cannot add a passkey.
 */
export async function beginRegistration(me: AuthUser, caller: Caller): Promise<PublicKeyCredentialCreationOptionsJSON> {
  await assertReauthenticated(me);
  const account = await UserModel.findById(me.id, { email: 1, displayName: 1 }).lean<User>();
  if (!account) throw new UnauthenticatedError();
  const existing = await listPasskeys(me.id);
  if (existing.length >= MAX_PASSKEYS) throw tooMany();
  const { rpId, rpName } = caller.config.webauthn;
  const challenge = await issueChallenge('registration', me.id);
  return generateRegistrationOptions({
    rpName,
    rpID: rpId,
    userName: account.email,
    userDisplayName: account.displayName ?? account.email,
    userID: Buffer.from(await userHandleOf(me.id), 'base64url'),
    challenge: Buffer.from(challenge, 'base64url'),
    timeout: CHALLENGE_TTL_MS,
    attestationType: 'none',
    excludeCredentials: existing.map((p) => ({ id: p.credentialId, transports: p.transports as never })),
    authenticatorSelection: { residentKey: 'required', userVerification: 'required' },
    supportedAlgorithmIDs: ALGORITHMS,
  });
}

function invalidRegistration(why: string): BadUserInputError {
  return new BadUserInputError('response', `The passkey could not be registered: ${why}`);
}

/** Checks the browser's response against its challenge, the RP ID and the allowed origins. */
async function verifyRegistration(
  me: AuthUser,
  rawResponse: unknown,
  caller: Caller,
): Promise<NonNullable<VerifiedRegistrationResponse['registrationInfo']>> {
  const response = parseRegistration(rawResponse);
  const challenge = challengeOf(response.response.clientDataJSON);
  if (!challenge || !(await takeChallenge(challenge, 'registration', me.id)))
    throw invalidRegistration('the challenge is unknown, used or expired; call beginPasskeyRegistration again');
  const { rpId, origins } = caller.config.webauthn;
  let verified: VerifiedRegistrationResponse;
  try {
    verified = await verifyRegistrationResponse({
      response,
      expectedChallenge: challenge,
      expectedOrigin: [...origins],
      expectedRPID: rpId,
      requireUserVerification: true,
      supportedAlgorithmIDs: ALGORITHMS,
    });
  } catch (err) {
    throw invalidRegistration((err as Error).message);
  }
  if (!verified.verified || !verified.registrationInfo) throw invalidRegistration('it did not verify');
  return verified.registrationInfo;
}

/** `finishPasskeyRegistration`: stores the verified passkey in a free slot (CONFLICT when none is left). */
export async function finishRegistration(
  me: AuthUser,
  rawResponse: unknown,
  rawName: string | null | undefined,
  caller: Caller,
): Promise<Passkey> {
  const name = rawName == null ? null : parseInput(nameSchema, rawName, 'name');
  const info = await verifyRegistration(me, rawResponse, caller);
  const { credential } = info;
  const fields = {
    userId: me.id,
    name: name ?? `Passkey (${new Date().toISOString().slice(0, 10)})`,
    credentialId: credential.id,
    publicKey: Buffer.from(credential.publicKey).toString('base64url'),
    counter: credential.counter,
    transports: credential.transports ?? [],
    backedUp: info.credentialBackedUp,
  };
  const passkey = await insertInUserSlot(fields);
  // Deleted or signed out everywhere meanwhile: the sweep may have passed, so the passkey goes.
  await undoUnlessUserActive(me.id, () => PasskeyModel.deleteOne({ _id: passkey._id }), me.tokenVersion);
  audit(caller, PasswordlessEvent.PASSKEY_ADDED, {
    userId: me.id,
    actorId: me.id,
    details: { passkeyId: String(passkey._id), backedUp: passkey.backedUp },
  });
  return passkey;
}

function insertInUserSlot(fields: Omit<Passkey, '_id' | 'slot' | 'createdAt' | 'lastUsedAt'>): Promise<Passkey> {
  return insertInFreeSlot({
    slots: SLOTS,
    taken: async () =>
      (await PasskeyModel.find({ userId: fields.userId }, { slot: 1 }).lean<Passkey[]>()).map((p) => p.slot),
    insert: async (slot) => (await PasskeyModel.create({ ...fields, slot })).toObject(),
    // The same credential registered twice (excludeCredentials should have stopped it).
    otherConflict: async () =>
      (await PasskeyModel.exists({ credentialId: fields.credentialId }))
        ? new ConflictError('This passkey is already registered', { reason: 'PASSKEY_EXISTS' })
        : null,
    full: tooMany,
  });
}

function findMine(userId: string, id: string): Promise<Passkey | null> {
  if (!isObjectId(id)) return Promise.resolve(null);
  return PasskeyModel.findOne({ _id: id.toLowerCase(), userId }).lean<Passkey>();
}

/** `renamePasskey`: one of my passkeys; another user's or an unknown one is NOT_FOUND. */
export async function renamePasskey(me: AuthUser, id: string, rawName: string): Promise<Passkey> {
  const name = parseInput(nameSchema, rawName, 'name');
  const found = await findMine(me.id, id);
  if (!found) throw new NotFoundError('No such passkey');
  const renamed = await PasskeyModel.findOneAndUpdate(
    { _id: found._id, userId: me.id },
    { $set: { name } },
    { returnDocument: 'after' },
  ).lean<Passkey>();
  if (!renamed) throw new NotFoundError('No such passkey');
  return renamed;
}

/** `deletePasskey`: one of my passkeys, inside the re-authentication window. */
export async function deletePasskey(me: AuthUser, id: string, caller: Caller): Promise<boolean> {
  await assertReauthenticated(me);
  const found = await findMine(me.id, id);
  const removed = found ? await PasskeyModel.deleteOne({ _id: found._id, userId: me.id }) : null;
  if (!removed?.deletedCount) throw new NotFoundError('No such passkey');
  audit(caller, PasswordlessEvent.PASSKEY_REMOVED, {
    userId: me.id,
    actorId: me.id,
    details: { passkeyId: id },
  });
  return true;
}

/** Account deletion: the user's passkeys, handle and pending registrations. */
export async function deletePasskeysOf(userId: string): Promise<number> {
  const removed = await Promise.all([
    PasskeyModel.deleteMany({ userId }),
    WebAuthnUserModel.deleteMany({ _id: userId }),
    WebAuthnChallengeModel.deleteMany({ userId }),
  ]);
  return removed.reduce((sum, r) => sum + r.deletedCount, 0);
}

/**
 * A password reset takes a compromised account back, and a first emailed code takes an account
 * back from whoever registered it without owning the address: a passkey an intruder added must
 * not outlive either, so every passkey goes (as API keys do). Disabling keeps them: sign-in
 * refuses a disabled account anyway, and enabling it again gives them back.
 */
export async function revokePasskeysOf(userId: string, revocation: Revocation): Promise<void> {
  if (revocation.reason === 'USER_DISABLED') return;
  const removed = await PasskeyModel.deleteMany({ userId });
  if (!removed.deletedCount) return;
  audit({ client: revocation, logger: revocation.logger }, PasswordlessEvent.PASSKEY_REMOVED, {
    userId,
    actorId: revocation.actorId,
    details: { reason: revocation.reason, count: removed.deletedCount },
  });
}
