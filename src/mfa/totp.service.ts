import { MfaEvent } from './totp.audit';
import { toString as qrCodeSvg } from 'qrcode';
import { TOTP } from 'otpauth';
import { audit } from '../auth/auth.audit';
import type { SignInVia } from '../auth/sign-in';
import { proveCodeUnderLockout, proveSecondFactor, proveSecondFactorAlone } from '../auth/credentials.service';
import { requireReauthentication } from '../auth/reauthentication';
import { revokeAllSessions } from '../auth/session.service';
import type { AuthUser, Caller } from '../core/context';
import { atomically, op } from '../infra/db';
import { BadUserInputError, ConflictError, NotFoundError, UnauthenticatedError } from '../core/errors';
import { parseObjectId } from '../core/validation';
import { User, UserModel } from '../users/user.model';
import { userView } from '../users/user.profile';
import type { Actor } from '../users/user.service';
import {
  encryptSecret,
  newRecoveryCodes,
  newSecret,
  recoveryCodeHash,
  TOTP_DIGITS,
  TOTP_PERIOD_SECONDS,
} from './totp.crypto';
import { undoUnlessUserActive } from '../users/user.guard';
import { TotpCredentialModel } from './totp.model';
import { consumePendingTotp, totpKey } from './totp.verify';
import type { TotpSetup } from './totp.types';

/**
 * A wrong code in these mutations is BAD_USER_INPUT on `code`, not UNAUTHENTICATED: the caller
 * is signed in, and UNAUTHENTICATED would tell clients their session ended.
 */
const wrongCode = () => new BadUserInputError('code', 'code is not a valid code from the authenticator app');

/** What turning TOTP off or replacing the recovery codes takes: the password (or a recent reauthenticate) and a code. */
export interface BothFactors {
  currentPassword?: string | null;
  code: string;
}

async function accountOf(me: AuthUser): Promise<User> {
  const account = await UserModel.findById(me.id).lean<User>();
  if (!account) throw new UnauthenticatedError();
  return account;
}

/**
 * Password (or the session's re-authentication window), then a TOTP or recovery code: what
 * turning TOTP off or replacing the recovery codes takes. A wrong code counts towards the lockout
 * like a wrong password.
 */
async function proveBothFactors(me: AuthUser, proof: BothFactors, caller: Caller, via: SignInVia): Promise<User> {
  const account = await accountOf(me);
  if (!account.totpEnabled) throw new ConflictError('Two-factor sign-in is not enabled', { reason: 'MFA_NOT_ENABLED' });
  const check = await requireReauthentication(me, account, proof.currentPassword, caller, via, { hold: true });
  const proven = check
    ? await proveSecondFactor(me.id, check, proof.code, caller, via)
    : await proveSecondFactorAlone(account, proof.code, caller, via);
  if (!proven) throw wrongCode();
  return account;
}

/** Starts (or restarts) setup: a new secret waits for its first code; nothing changes for sign-in yet. */
export async function beginTotpSetup(
  me: AuthUser,
  currentPassword: string | null | undefined,
  caller: Caller,
): Promise<TotpSetup> {
  const { config } = caller;
  const account = await accountOf(me);
  // Before the password, so this is never a password-only check on an account with TOTP on.
  if (account.totpEnabled) throw new ConflictError('Two-factor sign-in is already enabled', { reason: 'MFA_ENABLED' });
  await requireReauthentication(me, account, currentPassword, caller, 'beginTotpSetup');
  const secret = newSecret();
  const pendingSecret = encryptSecret(config, me.id, new Uint8Array(secret.buffer));
  await atomically(totpKey(me.id), () =>
    TotpCredentialModel.updateOne({ _id: me.id }, { $set: { pendingSecret, pendingMisses: 0 } }, { upsert: true }),
  );
  // Setup is on only while TOTP is off: this pending secret, unless a newer setup replaced it.
  const undo = () =>
    atomically(totpKey(me.id), () => TotpCredentialModel.deleteOne({ _id: me.id, secret: null, pendingSecret }));
  await undoUnlessUserActive(me.id, undo, me.tokenVersion);
  const otpauthUrl = new TOTP({
    issuer: config.jwt.issuer,
    label: account.email,
    secret,
    algorithm: 'SHA1',
    digits: TOTP_DIGITS,
    period: TOTP_PERIOD_SECONDS,
  }).toString();
  return { secret: secret.base32, otpauthUrl, qrCodeSvg: await qrCodeSvg(otpauthUrl, { type: 'svg', margin: 2 }) };
}

/**
 * The first code from the app proves it holds the pending secret: TOTP is on, the recovery codes
 * are returned (only this once), and every other session of the user ends. Only an access token
 * is presented here, so each code counts towards the sign-in lockout like a wrong sign-in code
 * (429 once LOGIN_MAX_ATTEMPTS are used up), and the miss that uses up the last attempt drops
 * the pending secret: after that every code is refused as when no setup was started, until
 * beginTotpSetup (with the password) hands out a new one.
 */
export async function confirmTotpSetup(me: AuthUser, code: string, caller: Caller): Promise<string[]> {
  const { config } = caller;
  const account = await accountOf(me);
  if (account.totpEnabled) throw new ConflictError('Two-factor sign-in is already enabled', { reason: 'MFA_ENABLED' });
  const accepted = await proveCodeUnderLockout(account, caller, 'confirmTotpSetup', (last) =>
    consumePendingTotp(me.id, code, caller, { dropOnMiss: last }),
  );
  if (!accepted) throw wrongCode();
  const codes = newRecoveryCodes();
  // The flag is set in the same queue turn as the secret: a resetUserTotp or disableTotp (which
  // clear the flag and delete the credentials in one turn) comes wholly before or after, so the
  // flag is never left on without credentials.
  const promoted = await atomically(totpKey(me.id), async () => {
    const res = await TotpCredentialModel.updateOne(
      { _id: me.id, pendingSecret: accepted.pendingSecret },
      {
        $set: {
          secret: accepted.pendingSecret,
          pendingSecret: null,
          recoveryCodes: codes.map((c) => recoveryCodeHash(config, me.id, c)),
        },
      },
    );
    if (res.modifiedCount !== 1) return false;
    await UserModel.updateOne({ _id: me.id }, { $set: { totpEnabled: true } });
    // Where writes are not queued (MongoDB), a turn-off may have deleted the credentials in
    // between: then the flag goes back off rather than asking for codes nothing can check.
    if (!(await TotpCredentialModel.exists({ _id: me.id, secret: op({ $ne: null }) }))) {
      await UserModel.updateOne({ _id: me.id }, { $set: { totpEnabled: false } });
      return false;
    }
    return true;
  });
  // A parallel beginTotpSetup replaced the secret this code was for, or TOTP was reset meanwhile.
  if (!promoted) throw wrongCode();
  await revokeAllSessions(me.id, me.sessionId);
  audit(caller, MfaEvent.MFA_ENABLED, { userId: me.id, actorId: me.id });
  return codes;
}

/** Turns TOTP off (password and a code), and ends every other session of the user. */
export async function disableTotp(me: AuthUser, proof: BothFactors, caller: Caller): Promise<boolean> {
  await proveBothFactors(me, proof, caller, 'disableTotp');
  await turnOff(me.id, me.sessionId);
  audit(caller, MfaEvent.MFA_DISABLED, { userId: me.id, actorId: me.id });
  return true;
}

/** Replaces every recovery code with 10 new ones (password and a code). */
export async function regenerateRecoveryCodes(me: AuthUser, proof: BothFactors, caller: Caller): Promise<string[]> {
  await proveBothFactors(me, proof, caller, 'regenerateRecoveryCodes');
  const codes = newRecoveryCodes();
  const hashes = codes.map((c) => recoveryCodeHash(caller.config, me.id, c));
  await atomically(totpKey(me.id), () =>
    TotpCredentialModel.updateOne({ _id: me.id }, { $set: { recoveryCodes: hashes } }),
  );
  audit(caller, MfaEvent.MFA_RECOVERY_CODES_REGENERATED, { userId: me.id, actorId: me.id });
  return codes;
}

/** ADMIN: turns a user's TOTP off (a lost phone and lost codes) and ends all of its sessions. */
export async function resetUserTotp(actor: Actor, userId: string): Promise<User> {
  const id = parseObjectId(userId, 'userId');
  const user = await UserModel.findById(id).lean<User>();
  if (!user) throw new NotFoundError('No such user');
  const wasOn = await turnOff(id);
  if (wasOn) {
    audit({ client: actor, logger: actor.logger }, MfaEvent.MFA_DISABLED, {
      userId: id,
      actorId: actor.id,
      details: { by: 'admin' },
    });
  }
  return userView({ ...user, totpEnabled: false });
}

/**
 * The flag and the credentials in one turn of the per-user queue (see confirmTotpSetup), then
 * the sessions end. True when TOTP was on.
 */
async function turnOff(userId: string, keepSession?: string): Promise<boolean> {
  const wasOn = await atomically(totpKey(userId), async () => {
    const res = await UserModel.updateOne({ _id: userId, totpEnabled: true }, { $set: { totpEnabled: false } });
    await TotpCredentialModel.deleteOne({ _id: userId });
    return res.modifiedCount === 1;
  });
  await revokeAllSessions(userId, keepSession);
  return wasOn;
}

/** Deletes a user's TOTP credentials (account deletion, turning TOTP off). Idempotent. */
export async function deleteTotpOf(userId: string): Promise<number> {
  return (await atomically(totpKey(userId), () => TotpCredentialModel.deleteOne({ _id: userId }))).deletedCount;
}
