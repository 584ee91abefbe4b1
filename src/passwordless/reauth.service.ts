import { audit } from '../auth/auth.audit';
import { openReauthWindow, provePasswordAgain, sessionRequired } from '../auth/reauthentication';
import type { AuthUser, Caller } from '../core/context';
import { BadUserInputError, UnauthenticatedError } from '../core/errors';
import { limitAttempt } from '../infra/rate-limit';
import { User, UserModel } from '../users/user.model';
import { PasswordlessEvent } from './passwordless.audit';
import { provePasskey } from './passkey-sign-in.service';
import { proveSignInCode } from './sign-in-code.service';
import type { ReauthenticateInput } from './reauth.types';

const PROOFS = ['password', 'passkeyResponse', 'emailCode'] as const;

/**
 * `reauthenticate`: one strong proof opens the re-authentication window of the caller's session
 * (REAUTH_WINDOW_SECONDS). A wrong proof counts towards the sign-in lockout and is BAD_USER_INPUT
 * on its field: the caller is signed in, and UNAUTHENTICATED would tell clients the session ended.
 */
export async function reauthenticate(me: AuthUser, input: ReauthenticateInput, caller: Caller): Promise<Date> {
  const given = PROOFS.filter((proof) => input[proof] != null);
  if (given.length !== 1)
    throw new BadUserInputError('input', `Give exactly one proof: ${PROOFS.join(', ')} (got ${given.length})`);
  if (given[0] === 'passkeyResponse' && input.totpCode != null)
    throw new BadUserInputError(
      'input.totpCode',
      'totpCode goes with password or emailCode: a passkey is both factors',
    );
  // Only a session has a window to open: refused before any proof is spent on it.
  if (!me.sessionId) throw sessionRequired();
  await limitAttempt(caller.config, 'reauthenticate', caller.client.ip, me.id);
  const account = await UserModel.findById(me.id).lean<User>();
  if (!account) throw new UnauthenticatedError();
  const method = given[0]!;
  if (method === 'password') await provePasswordAgain(account, input.password!, input.totpCode, caller);
  else if (method === 'emailCode') await proveEmailCodeAgain(account, input.emailCode!, input.totpCode, caller);
  else if (!(await provePasskey(account, input.passkeyResponse, caller)))
    throw new BadUserInputError(
      'input.passkeyResponse',
      'The passkey could not be verified: start again with beginPasskeySignIn',
    );
  const expiresAt = await openReauthWindow(me, caller);
  audit(caller, PasswordlessEvent.REAUTHENTICATED, {
    userId: me.id,
    actorId: me.id,
    details: { method, sessionId: me.sessionId },
  });
  return expiresAt;
}

/**
 * An emailed code, and with TOTP on a TOTP or recovery code too: as with signInWithCode and a
 * password reset, the mailbox alone never stands in for the second factor.
 */
async function proveEmailCodeAgain(
  account: User,
  code: string,
  totpCode: string | null | undefined,
  caller: Caller,
): Promise<void> {
  // Before anything is counted or used up.
  if (account.totpEnabled && !totpCode)
    throw new BadUserInputError('input.totpCode', 'totpCode is required: this account uses two-factor sign-in');
  const wrong = await proveSignInCode(account, code, totpCode, caller);
  if (wrong === 'totpCode')
    throw new BadUserInputError('input.totpCode', 'totpCode is not a valid code from the authenticator app');
  if (wrong === 'emailCode')
    throw new BadUserInputError('input.emailCode', 'emailCode is not a valid code: request a new one');
}
