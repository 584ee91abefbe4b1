import { createHmac } from 'node:crypto';
import { HeaderMap } from '@apollo/server';
import type { Request } from 'express';
import { GraphQLError } from 'graphql';
import { LRUCache } from 'lru-cache';
/* eslint-disable boundaries/dependencies -- until API keys plug in as an auth strategy (issue 22) */
import {
  authenticateApiKey,
  isApiKeyId,
  isApiKeySecret,
  recheckApiKey,
  type ApiKeyRefusal,
  type KeyCaller,
  type PresentedKey,
} from '../apikeys/apikey.service';
/* eslint-enable boundaries/dependencies */
import type { AuthUser } from '../core/context';
import type { User } from '../users/user.model';
import { authUserOf } from '../users/user.actor';
import { userView } from '../users/user.profile';
import type { Config } from '../core/config';
import { retryLater, ServiceUnavailableError, TooManyRequestsError } from '../core/errors';
import { limitAttempt, limitKey } from '../infra/rate-limit';
import { authenticateBearer, checkBearer, checkCurrentUser, currentUser, type BearerRefusal } from './auth.service';
import { clientInfo } from '../http/http';
import type { Logger } from '../core/logger';
import type { ClientInfo } from './auth.types';
import { MFA_REQUIRED, normalizeEmail, verifyCredentials } from './credentials.service';
import { verifyAccessToken } from './tokens';

/** Longest Authorization header we look at; anything longer is refused without parsing. */
const MAX_HEADER_LENGTH = 4096;

export interface Authentication {
  user: AuthUser | null;
  method: 'bearer' | 'basic' | null;
  /** The caller's user document as this check read it (view fields only), when it read one. */
  account?: User;
}

/**
 * A credential checked once and held for a long time (a WebSocket connection): `revalidate`
 * checks it again without counting as a sign-in attempt, and `expiresAt` (epoch ms) is when an
 * access token stops being valid.
 */
export interface HeldAuthentication {
  user: AuthUser;
  method: 'bearer' | 'basic';
  expiresAt: number | null;
  /** The same for every connection holding the same credential (their checks can be shared). */
  key: string;
  revalidate(): Promise<AuthUser | BearerRefusal>;
}

/** A 401 with a `WWW-Authenticate` challenge, as HTTP asks for a refused credential. */
export function invalidCredentials(
  scheme: 'Bearer' | 'Basic',
  description: string,
  reason: 'TOKEN_EXPIRED' | 'TOKEN_INVALID' | 'SESSION_REVOKED' | 'BAD_CREDENTIALS' | 'MFA_REQUIRED' = scheme ===
  'Basic'
    ? 'BAD_CREDENTIALS'
    : 'TOKEN_INVALID',
): GraphQLError {
  const challenge =
    scheme === 'Bearer'
      ? `Bearer realm="graphql", error="invalid_token", error_description="${description}"`
      : 'Basic realm="graphql", charset="UTF-8"';
  return new GraphQLError(description, {
    extensions: {
      code: 'UNAUTHENTICATED',
      reason,
      http: { status: 401, headers: new HeaderMap([['www-authenticate', challenge]]) },
    },
  });
}

const BEARER_MESSAGES = {
  TOKEN_EXPIRED: 'The access token has expired: refresh it',
  TOKEN_INVALID: 'Invalid access token',
  SESSION_REVOKED: 'The session of this access token has ended: sign in again',
} as const;

const API_KEY_MESSAGES: Record<ApiKeyRefusal, string> = {
  TOKEN_EXPIRED: 'The API key has expired',
  TOKEN_INVALID: 'Invalid API key',
  SESSION_REVOKED: 'The API key was revoked or its owner can no longer sign in',
};

/** Basic credentials `<name>:<secret>`, decoded once; null when malformed. */
function decodeBasic(encoded: string): { name: string; secret: string } | null {
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(encoded)) return null;
  const decoded = Buffer.from(encoded, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  return colon < 1 ? null : { name: decoded.slice(0, colon), secret: decoded.slice(colon + 1) };
}

/** Refusals of the credentials themselves; anything else (the database away) is not a 401. */
const CREDENTIAL_CODES = new Set(['UNAUTHENTICATED', 'FORBIDDEN', 'BAD_USER_INPUT']);

/**
 * Decodes the Authorization header into a user. No header is anonymous; a header that is
 * present but not valid is always an error (401), never silently anonymous.
 */
export function createAuthenticator(config: Config, logger: Logger) {
  // Successful Basic checks, keyed by an HMAC of the header so no credential sits in memory.
  const basicCache = new LRUCache<string, { id: string; tokenVersion: number; email: string }>({
    max: 10_000,
    ttl: Math.max(1, config.basicAuthCacheSeconds) * 1000,
  });
  const cacheKey = (header: string) => createHmac('sha256', config.jwt.secret).update(header).digest('base64url');

  async function basic(
    login: { name: string; secret: string } | null,
    header: string,
    client: ClientInfo,
    log: () => Logger,
  ): Promise<BasicUser> {
    const key = cacheKey(header);
    const cached = config.basicAuthCacheSeconds > 0 ? basicCache.get(key) : undefined;
    if (cached) {
      const current = await checkCurrentUser(cached.id, cached.tokenVersion, cached.email);
      if (current) return { ...current, tokenVersion: cached.tokenVersion };
      basicCache.delete(key);
    }
    if (!login) throw invalidCredentials('Basic', 'Malformed Basic credentials');
    const email = login.name;
    try {
      // The same per-IP and per-account limits as `login` (only uncached checks count).
      await limitAttempt(config, 'login', client.ip, normalizeEmail(email));
      const user = await verifyCredentials(config, email, login.secret, client, log(), 'basic');
      if (config.basicAuthCacheSeconds > 0)
        basicCache.set(key, { id: String(user._id), tokenVersion: user.tokenVersion, email: user.email });
      return {
        user: authUserOf(String(user._id), user),
        account: userView(user),
        tokenVersion: user.tokenVersion,
      };
    } catch (err) {
      if (err instanceof TooManyRequestsError || err instanceof ServiceUnavailableError) throw retryLater(err);
      // The password was right but the account has TOTP on: the message says to use an API key.
      if (err instanceof GraphQLError && err.extensions.reason === MFA_REQUIRED)
        throw invalidCredentials('Basic', err.message, MFA_REQUIRED);
      if (err instanceof GraphQLError && CREDENTIAL_CODES.has(String(err.extensions.code)))
        throw invalidCredentials('Basic', 'Invalid Basic credentials');
      throw err;
    }
  }

  /** An API key (Bearer secret, or Basic with the key id as user name): no bcrypt, its own rate limit. */
  async function apiKey(presented: PresentedKey, scheme: 'Bearer' | 'Basic'): Promise<Checked> {
    const caller = await authenticateApiKey(config, presented);
    if (typeof caller === 'string') throw invalidCredentials(scheme, API_KEY_MESSAGES[caller], caller);
    try {
      const { requestsPerWindow } = config.apiKeys;
      await limitKey(
        `apiKey:${caller.keyId}`,
        requestsPerWindow,
        config.rateLimit.windowSeconds,
        'Too many requests with this API key',
      );
    } catch (err) {
      if (err instanceof TooManyRequestsError) throw retryLater(err);
      throw err;
    }
    return { user: caller.user, method: scheme === 'Bearer' ? 'bearer' : 'basic', apiKey: caller };
  }

  /**
   * Checks an Authorization header value: the same rules over HTTP and WebSocket. `log` is called
   * only when something is logged, so most requests never build their child logger.
   */
  async function check(header: string, client: ClientInfo, log: () => Logger): Promise<Checked> {
    if (header.length > MAX_HEADER_LENGTH) throw invalidCredentials('Bearer', 'Authorization header too long');
    const match = /^(\S+) +(\S+)$/.exec(header.trim());
    const scheme = match?.[1]?.toLowerCase();
    if (scheme === 'bearer') {
      const token = match![2]!;
      if (isApiKeySecret(token)) return apiKey({ secret: token }, 'Bearer');
      const checked = await checkBearer(config, token);
      if (typeof checked === 'string') throw invalidCredentials('Bearer', BEARER_MESSAGES[checked], checked);
      return { ...checked, method: 'bearer', token };
    }
    if (scheme === 'basic') {
      const login = decodeBasic(match![2]!);
      // A key id as the user name: `<key id>:<secret>` is an API key, not a password sign-in.
      if (login && isApiKeyId(login.name)) return apiKey({ id: login.name, secret: login.secret }, 'Basic');
      return { ...(await basic(login, header, client, log)), method: 'basic' };
    }
    throw invalidCredentials('Bearer', 'Unsupported or malformed Authorization header');
  }

  async function authenticate(req: Request): Promise<Authentication> {
    const header = req.headers.authorization;
    if (header === undefined) return { user: null, method: null };
    const checked = await check(header, clientInfo(req), () => req.log ?? logger);
    return { user: checked.user, method: checked.method, account: 'account' in checked ? checked.account : undefined };
  }

  /** For a WebSocket's connection_init: the checked credential, kept to check again later. */
  async function hold(header: string, client: ClientInfo, log: Logger): Promise<HeldAuthentication> {
    const checked = await check(header, client, () => log);
    const { user } = checked;
    if ('apiKey' in checked) {
      const { keyId, expiresAt } = checked.apiKey;
      return {
        user,
        method: checked.method,
        expiresAt: expiresAt?.getTime() ?? null,
        key: `apikey:${keyId}`,
        // The key as it stands now (revoked, owner disabled): no secret check, no rate limit.
        revalidate: () => recheckApiKey(keyId),
      };
    }
    if (checked.method === 'bearer') {
      const { token } = checked;
      const claims = verifyAccessToken(token, config.jwt);
      return {
        user,
        method: 'bearer',
        expiresAt: claims && claims !== 'expired' ? claims.exp * 1000 : Date.now(),
        key: `bearer:${token}`,
        revalidate: () => authenticateBearer(config, token),
      };
    }
    const { tokenVersion } = checked;
    return {
      user,
      method: 'basic',
      expiresAt: null,
      key: `basic:${user.id}:${tokenVersion}:${user.email}`,
      // Whether the account still stands as it did when the password was checked: no new
      // password check, so a long-lived connection never counts as sign-in attempts.
      revalidate: async () => (await currentUser(user.id, tokenVersion, user.email)) ?? 'SESSION_REVOKED',
    };
  }

  return Object.assign(authenticate, { hold });
}

type Checked =
  | { user: AuthUser; account: User; method: 'bearer'; token: string }
  | (BasicUser & { method: 'basic' })
  | { user: AuthUser; method: 'bearer' | 'basic'; apiKey: KeyCaller };

interface BasicUser {
  user: AuthUser;
  account: User;
  tokenVersion: number;
}

export type Authenticator = ReturnType<typeof createAuthenticator>;
