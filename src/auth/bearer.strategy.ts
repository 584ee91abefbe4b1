import type { AuthStrategy, CredentialRefusal } from '../core/module';
import { invalidCredentials } from './auth.challenge';
import { checkBearer } from './auth.service';

const MESSAGES: Record<CredentialRefusal, string> = {
  TOKEN_EXPIRED: 'The access token has expired: refresh it',
  TOKEN_INVALID: 'Invalid access token',
  SESSION_REVOKED: 'The session of this access token has ended: sign in again',
};

/**
 * `Authorization: Bearer <access token>`: a signed token of a live session. Every Bearer value
 * no other strategy recognised is taken for one, so anything else is an invalid access token.
 */
export const accessTokenStrategy: AuthStrategy = {
  name: 'access-token',
  fallback: true,
  async authenticate(credentials, { config }) {
    if (credentials.scheme !== 'bearer') return undefined;
    const { token } = credentials;
    const checked = await checkBearer(config, token);
    if (typeof checked === 'string') throw invalidCredentials('Bearer', MESSAGES[checked], checked);
    return { ...checked, key: `bearer:${token}`, revalidate: () => checkBearer(config, token) };
  },
};
