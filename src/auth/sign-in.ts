export type { ClientInfo } from '../core/context';
import type { User } from '../users/user.model';

export interface AuthResult {
  accessToken: string;
  refreshToken: string;
  tokenType: 'Bearer';
  expiresIn: number;
  user: User;
  /** When the session ends: the refresh cookie's Max-Age in cookie mode. */
  sessionExpiresAt: Date;
}

/** Which entry point checked a password, for the audit log. */
export type SignInVia =
  | 'login'
  | 'basic'
  | 'oauth'
  | 'changePassword'
  | 'deleteAccount'
  | 'deleteOrganization'
  | 'requestEmailChange'
  | 'beginTotpSetup'
  | 'confirmTotpSetup'
  | 'disableTotp'
  | 'regenerateRecoveryCodes'
  | 'resetPassword'
  | 'reauthenticate'
  | 'signInWithCode'
  | 'passkey'
  | 'provider';
