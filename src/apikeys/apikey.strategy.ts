import { invalidCredentials } from '../auth/auth.challenge';
import type { Config } from '../core/config';
import { retryLater, TooManyRequestsError } from '../core/errors';
import type { AuthStrategy, Credentials } from '../core/module';
import { limitKey } from '../infra/rate-limit';
import {
  authenticateApiKey,
  isApiKeyId,
  isApiKeySecret,
  recheckApiKey,
  type ApiKeyRefusal,
  type PresentedKey,
} from './apikey.service';

const MESSAGES: Record<ApiKeyRefusal, string> = {
  TOKEN_EXPIRED: 'The API key has expired',
  TOKEN_INVALID: 'Invalid API key',
  SESSION_REVOKED:
    'The API key was revoked, its owner can no longer sign in, or (an organization key) its owner is no longer a member there',
};

/**
 * An API key, as a Bearer secret or as Basic `<key id>:<secret>`: recognised by its form, so it
 * is tried before passwords and access tokens. No bcrypt; its own rate limit per key.
 */
export const apiKeyStrategy: AuthStrategy = {
  name: 'api-key',
  async authenticate(credentials, { config }) {
    const presented = presentedKey(credentials);
    if (!presented) return undefined;
    const checked = await authenticateApiKey(config, presented);
    if (typeof checked === 'string')
      throw invalidCredentials(credentials.scheme === 'bearer' ? 'Bearer' : 'Basic', MESSAGES[checked], checked);
    await limitUse(config, checked.keyId);
    const { user, keyId, expiresAt } = checked;
    return {
      user,
      expiresAt: expiresAt?.getTime() ?? null,
      key: `apikey:${keyId}`,
      // The key as it stands now (revoked, owner disabled or no longer a member of the key's
      // organization): no secret check, no rate limit.
      revalidate: () => recheckApiKey(keyId),
    };
  },
};

function presentedKey(credentials: Credentials): PresentedKey | undefined {
  if (credentials.scheme === 'bearer')
    return isApiKeySecret(credentials.token) ? { secret: credentials.token } : undefined;
  // A key id as the user name: `<key id>:<secret>` is an API key, not a password sign-in.
  const { name, secret } = credentials.login;
  return isApiKeyId(name) ? { id: name, secret } : undefined;
}

async function limitUse(config: Config, keyId: string): Promise<void> {
  try {
    const { requestsPerWindow } = config.apiKeys;
    await limitKey(
      `apiKey:${keyId}`,
      requestsPerWindow,
      config.rateLimit.windowSeconds,
      'Too many requests with this API key',
    );
  } catch (err) {
    if (err instanceof TooManyRequestsError) throw retryLater(err);
    throw err;
  }
}
