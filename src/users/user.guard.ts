import { accountGone } from '../core/errors';
import { UserModel } from './user.model';

/**
 * Check-after-write for a document written for a user (a session, an API key, a link and its
 * mail, a TOTP setup). Disabling, deleting, logoutAll and a password reset first change the user
 * document (`disabled`, gone, `tokenVersion` bumped), then sweep what it owns; a document written
 * after that sweep finds the change here, so its writer undoes it and refuses (UNAUTHENTICATED,
 * SESSION_REVOKED). Checking before the write could not close that window. `tokenVersion`: the
 * version the caller's credential was checked under, when it has one.
 */
export async function undoUnlessUserActive(
  userId: string,
  undo: () => Promise<unknown>,
  tokenVersion?: number,
): Promise<void> {
  const filter = { _id: userId, disabled: false, ...(tokenVersion === undefined ? {} : { tokenVersion }) };
  if (await UserModel.exists(filter)) return;
  await undo();
  throw accountGone();
}
