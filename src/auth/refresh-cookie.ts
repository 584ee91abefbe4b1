import type { Request, Response } from 'express';
import type { Config } from '../core/config';
import { ForbiddenError } from '../core/errors';
import type { AuthResult } from './sign-in';

/**
 * Cookie mode for browsers: the refresh token lives in an httpOnly cookie that JavaScript cannot
 * read. `__Host-` pins it to this host, Secure and Path=/; SameSite=Strict keeps other sites from
 * sending it. It authenticates nothing but `refreshToken` and `logout`.
 */
export const REFRESH_COOKIE = '__Host-refresh_token';

export function readRefreshCookie(req: Request): string | undefined {
  return readCookie(req, REFRESH_COOKIE);
}

/** A cookie of the request by name (decoded), or undefined; a malformed value reads as absent. */
export function readCookie(req: Pick<Request, 'headers'>, name: string): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) {
      try {
        return decodeURIComponent(part.slice(eq + 1).trim());
      } catch {
        return undefined;
      }
    }
  }
  return undefined;
}

/** Puts the pair's refresh token into the cookie; the body then carries `refreshToken: null`. */
export function inCookie(res: Response, result: AuthResult): Omit<AuthResult, 'refreshToken'> & { refreshToken: null } {
  res.cookie(REFRESH_COOKIE, result.refreshToken, {
    httpOnly: true,
    secure: true,
    sameSite: 'strict',
    path: '/',
    maxAge: Math.max(0, result.sessionExpiresAt.getTime() - Date.now()),
  });
  return { ...result, refreshToken: null };
}

export function clearRefreshCookie(res: Response): void {
  res.clearCookie(REFRESH_COOKIE, { httpOnly: true, secure: true, sameSite: 'strict', path: '/' });
}

/**
 * A cookie is sent by the browser whoever made the page, so a cookie-authenticated refresh or
 * logout must come from this server's own origin or one in CORS_ORIGINS (a cross-site request
 * forgery would carry another Origin, or none).
 */
export function assertCookieOrigin(req: Request, config: Pick<Config, 'http'>): void {
  const origin = req.headers.origin;
  const own = `${req.protocol}://${req.get('host')}`;
  if (origin && (origin === own || config.http.corsOrigins.includes(origin))) return;
  throw new ForbiddenError('The refresh cookie is only accepted from this site or an allowed origin', {
    reason: 'ORIGIN_NOT_ALLOWED',
  });
}
