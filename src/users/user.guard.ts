import { accountGone } from '../core/errors';
import { UserModel } from './user.model';

/**
 * Check-after-write for a document written for a user (an item quota, a session, an API key, a
 * link and its mail). Disabling and deleting a user first change the user document, then sweep
 * what it owns; a document written after that sweep finds the user disabled or gone here, so its
 * writer undoes it and refuses (UNAUTHENTICATED, SESSION_REVOKED). Checking before the write
 * could not close that window.
 */
export async function undoUnlessUserActive(userId: string, undo: () => Promise<unknown>): Promise<void> {
  if (await UserModel.exists({ _id: userId, disabled: false })) return;
  await undo();
  throw accountGone();
}
