import { toString as qrCodeSvg } from 'qrcode';
import { TOTP } from 'otpauth';
import { audit, AuditEventType } from '../auth/auth.audit';
import type { ClientInfo, SignInVia } from '../auth/auth.types';
import { proveCodeUnderLockout, proveCurrentPassword, proveSecondFactor } from '../auth/credentials.service';
import { revokeAllSessions } from '../auth/session.service';
import type { AuthUser } from '../core/context';
import type { Config } from '../core/config';
import { atomically, op } from '../infra/db';
import { BadUserInputError, ConflictError, NotFoundError, UnauthenticatedError } from '../core/errors';
import type { Logger } from '../core/logger';
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

async function signedInUser(caller: AuthUser): Promise<User> {
  const user = await UserModel.findById(caller.id).lean<User>();
  if (!user) throw new UnauthenticatedError();
  return user;
}

/**
 * Password, then a TOTP or recovery code: what turning TOTP off or replacing the recovery codes
 * takes. A wrong code counts towards the lockout like a wrong password.
 */
async function proveBothFactors(
  config: Config,
  caller: AuthUser,
  password: string,
  code: string,
  client: ClientInfo,
  logger: Logger,
  via: SignInVia,
): Promise<User> {
  const user = await signedInUser(caller);
  if (!user.totpEnabled) throw new ConflictError('Two-factor sign-in is not enabled', { reason: 'MFA_NOT_ENABLED' });
  const check = await proveCurrentPassword(config, user, password, client, logger, via, { hold: true });
  if (!(await proveSecondFactor(config, caller.id, check, code, client, logger, via))) throw wrongCode();
  return user;
}

/** Starts (or restarts) setup: a new secret waits for its first code; nothing changes for sign-in yet. */
export async function beginTotpSetup(
  config: Config,
  caller: AuthUser,
  currentPassword: string,
  client: ClientInfo,
  logger: Logger,
): Promise<TotpSetup> {
  const user = await signedInUser(caller);
  // Before the password, so this is never a password-only check on an account with TOTP on.
  if (user.totpEnabled) throw new ConflictError('Two-factor sign-in is already enabled', { reason: 'MFA_ENABLED' });
  await proveCurrentPassword(config, user, currentPassword, client, logger, 'beginTotpSetup');
  const secret = newSecret();
  const pendingSecret = encryptSecret(config, caller.id, new Uint8Array(secret.buffer));
  await atomically(totpKey(caller.id), () =>
    TotpCredentialModel.updateOne({ _id: caller.id }, { $set: { pendingSecret, pendingMisses: 0 } }, { upsert: true }),
  );
  // Setup is on only while TOTP is off: this pending secret, unless a newer setup replaced it.
  const undo = () =>
    atomically(totpKey(caller.id), () =>
      TotpCredentialModel.deleteOne({ _id: caller.id, secret: null, pendingSecret }),
    );
  await undoUnlessUserActive(caller.id, undo, caller.tokenVersion);
  const otpauthUrl = new TOTP({
    issuer: config.jwt.issuer,
    label: user.email,
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
export async function confirmTotpSetup(
  config: Config,
  caller: AuthUser,
  code: string,
  client: ClientInfo,
  logger: Logger,
): Promise<string[]> {
  const user = await signedInUser(caller);
  if (user.totpEnabled) throw new ConflictError('Two-factor sign-in is already enabled', { reason: 'MFA_ENABLED' });
  const accepted = await proveCodeUnderLockout(config, user, client, logger, 'confirmTotpSetup', (last) =>
    consumePendingTotp(config, caller.id, code, logger, { dropOnMiss: last }),
  );
  if (!accepted) throw wrongCode();
  const codes = newRecoveryCodes();
  // The flag is set in the same queue turn as the secret: a resetUserTotp or disableTotp (which
  // clear the flag and delete the credentials in one turn) comes wholly before or after, so the
  // flag is never left on without credentials.
  const promoted = await atomically(totpKey(caller.id), async () => {
    const res = await TotpCredentialModel.updateOne(
      { _id: caller.id, pendingSecret: accepted.pendingSecret },
      {
        $set: {
          secret: accepted.pendingSecret,
          pendingSecret: null,
          recoveryCodes: codes.map((c) => recoveryCodeHash(config, caller.id, c)),
        },
      },
    );
    if (res.modifiedCount !== 1) return false;
    await UserModel.updateOne({ _id: caller.id }, { $set: { totpEnabled: true } });
    // Where writes are not queued (MongoDB), a turn-off may have deleted the credentials in
    // between: then the flag goes back off rather than asking for codes nothing can check.
    if (!(await TotpCredentialModel.exists({ _id: caller.id, secret: op({ $ne: null }) }))) {
      await UserModel.updateOne({ _id: caller.id }, { $set: { totpEnabled: false } });
      return false;
    }
    return true;
  });
  // A parallel beginTotpSetup replaced the secret this code was for, or TOTP was reset meanwhile.
  if (!promoted) throw wrongCode();
  await revokeAllSessions(caller.id, caller.sessionId);
  audit(logger, client, AuditEventType.MFA_ENABLED, { userId: caller.id, actorId: caller.id });
  return codes;
}

/** Turns TOTP off (password and a code), and ends every other session of the user. */
export async function disableTotp(
  config: Config,
  caller: AuthUser,
  currentPassword: string,
  code: string,
  client: ClientInfo,
  logger: Logger,
): Promise<boolean> {
  await proveBothFactors(config, caller, currentPassword, code, client, logger, 'disableTotp');
  await turnOff(caller.id, caller.sessionId);
  audit(logger, client, AuditEventType.MFA_DISABLED, { userId: caller.id, actorId: caller.id });
  return true;
}

/** Replaces every recovery code with 10 new ones (password and a code). */
export async function regenerateRecoveryCodes(
  config: Config,
  caller: AuthUser,
  currentPassword: string,
  code: string,
  client: ClientInfo,
  logger: Logger,
): Promise<string[]> {
  await proveBothFactors(config, caller, currentPassword, code, client, logger, 'regenerateRecoveryCodes');
  const codes = newRecoveryCodes();
  const hashes = codes.map((c) => recoveryCodeHash(config, caller.id, c));
  await atomically(totpKey(caller.id), () =>
    TotpCredentialModel.updateOne({ _id: caller.id }, { $set: { recoveryCodes: hashes } }),
  );
  audit(logger, client, AuditEventType.MFA_RECOVERY_CODES_REGENERATED, { userId: caller.id, actorId: caller.id });
  return codes;
}

/** ADMIN: turns a user's TOTP off (a lost phone and lost codes) and ends all of its sessions. */
export async function resetUserTotp(actor: Actor, userId: string): Promise<User> {
  const id = parseObjectId(userId, 'userId');
  const user = await UserModel.findById(id).lean<User>();
  if (!user) throw new NotFoundError('No such user');
  const wasOn = await turnOff(id);
  if (wasOn) {
    audit(actor.logger, actor, AuditEventType.MFA_DISABLED, {
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
