import type { User } from '../users/user.model';

export interface ClientInfo {
  userAgent?: string | null;
  /** The client's address (as Express sees it, TRUST_PROXY applied), for rate limits and audit. */
  ip?: string;
}

export interface AuthResult {
  accessToken: string;
  refreshToken: string;
  tokenType: 'Bearer';
  expiresIn: number;
  user: User;
}

/** Which entry point checked a password, for the audit log. */
export type SignInVia = 'login' | 'basic' | 'oauth' | 'changePassword';
