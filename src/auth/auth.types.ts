export type { ClientInfo } from '../core/http';
import type { User } from '../users/user.model';

export interface AuthResult {
  accessToken: string;
  refreshToken: string;
  tokenType: 'Bearer';
  expiresIn: number;
  user: User;
}

/** Which entry point checked a password, for the audit log. */
export type SignInVia = 'login' | 'basic' | 'oauth' | 'changePassword' | 'deleteAccount' | 'requestEmailChange';
