import { createHmac } from 'node:crypto';
import type { Request } from 'express';
import { LRUCache } from 'lru-cache';
import type { Config } from '../core/config';
import { CallerWithLazyLogger, type AuthUser, type Caller, type ClientInfo } from '../core/context';
import type { Logger } from '../core/logger';
import type { AuthStrategy, Authenticated, CredentialRefusal, Credentials, VerifiedCredential } from '../core/module';
import { clientInfo } from '../http/http';
import type { User } from '../users/user.model';
import { invalidCredentials } from './auth.challenge';

/** Longest Authorization header we look at; anything longer is refused without parsing. */
const MAX_HEADER_LENGTH = 4096;
/** Remembered checks kept at most; the least recently used goes first. */
const MAX_REMEMBERED = 10_000;

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
  revalidate(): Promise<AuthUser | CredentialRefusal>;
}

const unsupported = () => invalidCredentials('Bearer', 'Unsupported or malformed Authorization header');

/**
 * The caller of an HTTP request outside GraphQL's context. The request's logger is a getter, so
 * most requests, which log nothing, never build their child logger.
 */
export function requestCaller(config: Config, req: Request, logger: Logger): Caller {
  return new CallerWithLazyLogger(config, clientInfo(req), () => req.log ?? logger);
}

/** Basic credentials `<name>:<secret>`, decoded once; null when malformed. */
function decodeBasic(encoded: string): { name: string; secret: string } | null {
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(encoded)) return null;
  const decoded = Buffer.from(encoded, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  return colon < 1 ? null : { name: decoded.slice(0, colon), secret: decoded.slice(colon + 1) };
}

/** The header's credentials by scheme; a header that cannot be read as either is refused here. */
function credentialsOf(header: string): Credentials {
  if (header.length > MAX_HEADER_LENGTH) throw invalidCredentials('Bearer', 'Authorization header too long');
  const match = /^(\S+) +(\S+)$/.exec(header.trim());
  const scheme = match?.[1]?.toLowerCase();
  if (scheme === 'bearer') return { scheme, token: match![2]! };
  if (scheme !== 'basic') throw unsupported();
  const login = decodeBasic(match![2]!);
  if (!login) throw invalidCredentials('Basic', 'Malformed Basic credentials');
  return { scheme, login };
}

/**
 * The checks strategies asked to remember (a password's), for BASIC_AUTH_CACHE_SECONDS: keyed by
 * an HMAC of the header, and holding only what revalidates the caller, so no credential sits in
 * memory. A remembered check is revalidated on every use and forgotten once it no longer stands.
 */
function rememberedChecks(config: Config) {
  const seconds = config.basicAuthCacheSeconds;
  const checks = new LRUCache<string, Omit<VerifiedCredential, keyof Authenticated>>({
    max: MAX_REMEMBERED,
    ttl: Math.max(1, seconds) * 1000,
  });
  const keyOf = (header: string) => createHmac('sha256', config.jwt.secret).update(header).digest('base64url');
  return {
    async recall(header: string): Promise<VerifiedCredential | undefined> {
      if (checks.size === 0) return undefined;
      const key = keyOf(header);
      const known = checks.get(key);
      if (!known) return undefined;
      const current = await known.revalidate();
      if (typeof current !== 'string') return { ...known, ...current };
      checks.delete(key);
      return undefined;
    },
    keep(header: string, verified: VerifiedCredential): void {
      if (seconds <= 0 || !verified.remember) return;
      const { user: _user, account: _account, ...remembered } = verified;
      checks.set(keyOf(header), remembered);
    },
  };
}

/** The first strategy that claims the credentials decides; one that is wrong has thrown. */
async function firstClaim(
  strategies: readonly AuthStrategy[],
  credentials: Credentials,
  caller: Caller,
): Promise<VerifiedCredential> {
  for (const strategy of strategies) {
    const verified = await strategy.authenticate(credentials, caller);
    if (verified) return verified;
  }
  throw unsupported();
}

/**
 * Decodes the Authorization header into a user with the strategies the feature modules bring.
 * No header is anonymous; a header that is present but not valid is always an error (401), never
 * silently anonymous.
 */
export function createAuthenticator(config: Config, logger: Logger, strategies: readonly AuthStrategy[]) {
  // Those that recognise their credentials by form first, then those that take the rest.
  const ordered = [...strategies.filter((s) => !s.fallback), ...strategies.filter((s) => s.fallback)];
  const remembered = rememberedChecks(config);

  /** Checks an Authorization header value: the same rules over HTTP and WebSocket. */
  async function check(header: string, caller: Caller) {
    const credentials = credentialsOf(header);
    const method = credentials.scheme;
    const recalled = await remembered.recall(header);
    if (recalled) return { method, verified: recalled };
    const verified = await firstClaim(ordered, credentials, caller);
    remembered.keep(header, verified);
    return { method, verified };
  }

  async function authenticate(req: Request): Promise<Authentication> {
    const header = req.headers.authorization;
    if (header === undefined) return { user: null, method: null };
    const { method, verified } = await check(header, requestCaller(config, req, logger));
    return { user: verified.user, method, account: verified.account };
  }

  /** For a WebSocket's connection_init: the checked credential, kept to check again later. */
  async function hold(header: string, client: ClientInfo, log: Logger): Promise<HeldAuthentication> {
    const { method, verified } = await check(header, { config, client, logger: log });
    const { user, expiresAt, key } = verified;
    const revalidate = async () => {
      const current = await verified.revalidate();
      return typeof current === 'string' ? current : current.user;
    };
    return { user, method, expiresAt, key, revalidate };
  }

  return Object.assign(authenticate, { hold });
}

export type Authenticator = ReturnType<typeof createAuthenticator>;
