import express, { type Request, type Response, type Router } from 'express';
import { GraphQLError } from 'graphql';
import type { Config } from '../core/config';
import { isDatabaseUnavailable, isQueryTimeout } from '../core/errors';
import type { Logger } from '../core/logger';
import { limitAttempt } from '../infra/rate-limit';
import { requestCaller } from './auth.context';
import * as auth from './auth.service';
import type { AuthResult } from './sign-in';
import { MFA_INVALID, MFA_REQUIRED } from './credentials.service';
import { refresh } from './refresh.service';

type OAuthError = 'invalid_request' | 'invalid_grant' | 'unsupported_grant_type';

function fail(res: Response, error: OAuthError, description: string): void {
  res
    .status(400)
    .set('Cache-Control', 'no-store')
    .set('Pragma', 'no-cache')
    .json({ error, error_description: description });
}

function sendRetryLater(
  res: Response,
  status: 429 | 503,
  retryAfter: number,
  error: string,
  description: string,
): void {
  res
    .status(status)
    .set('Retry-After', String(retryAfter))
    .set('Cache-Control', 'no-store')
    .json({ error, error_description: description });
}

function field(req: Request, name: string): string | undefined {
  const value = (req.body as Record<string, unknown> | undefined)?.[name];
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/**
 * OAuth 2.0 token endpoint (RFC 6749 §4.3 password grant, §6 refresh) for tools that speak
 * OAuth. It calls the same service functions as the GraphQL mutations, lockout included.
 */
export function oauthRouter(config: Config, logger: Logger): Router {
  const router = express.Router();
  router.post(
    '/oauth/token',
    express.urlencoded({ extended: false, limit: '10kb', parameterLimit: 20 }),
    async (req, res) => {
      if (!req.is('application/x-www-form-urlencoded')) {
        return fail(res, 'invalid_request', 'Content-Type must be application/x-www-form-urlencoded');
      }
      const grantType = field(req, 'grant_type');
      const caller = requestCaller(config, req, logger);
      try {
        await limitAttempt(config, 'oauth', req.ip);
        let result: AuthResult;
        if (grantType === 'password') {
          const username = field(req, 'username');
          const password = field(req, 'password');
          if (!username || !password) return fail(res, 'invalid_request', 'username and password are required');
          const totpCode = field(req, 'totp_code');
          result = await auth.login({ email: username, password, totpCode }, caller, 'oauth');
        } else if (grantType === 'refresh_token') {
          const token = field(req, 'refresh_token');
          if (!token) return fail(res, 'invalid_request', 'refresh_token is required');
          result = await refresh(token, caller);
        } else if (grantType === undefined) {
          return fail(res, 'invalid_request', 'grant_type is required');
        } else {
          return fail(res, 'unsupported_grant_type', 'Supported grant types: password, refresh_token');
        }
        res.status(200).set('Cache-Control', 'no-store').set('Pragma', 'no-cache').json({
          access_token: result.accessToken,
          token_type: result.tokenType,
          expires_in: result.expiresIn,
          refresh_token: result.refreshToken,
        });
      } catch (err) {
        const code = err instanceof GraphQLError ? err.extensions.code : undefined;
        if (code === 'BAD_USER_INPUT')
          return fail(res, 'invalid_request', err instanceof Error ? err.message : 'invalid');
        // RFC 6749 has no code for a missing second factor: invalid_grant, with the reason in words.
        const reason = err instanceof GraphQLError ? err.extensions.reason : undefined;
        if (reason === MFA_REQUIRED)
          return fail(res, 'invalid_grant', 'This account uses two-factor sign-in: a totp_code is required');
        if (reason === MFA_INVALID) return fail(res, 'invalid_grant', 'Invalid totp_code');
        if (code === 'UNAUTHENTICATED' || code === 'FORBIDDEN')
          return fail(res, 'invalid_grant', 'Invalid credentials or refresh token');
        const retryAfter = Number(err instanceof GraphQLError ? err.extensions.retryAfter : undefined) || 1;
        if (code === 'TOO_MANY_REQUESTS')
          return sendRetryLater(res, 429, retryAfter, 'too_many_requests', 'Too many attempts, try again later');
        // RFC 6749 §5.2 has no such code; `temporarily_unavailable` is the one §4.1.2.1 defines.
        if (code === 'SERVICE_UNAVAILABLE')
          return sendRetryLater(res, 503, retryAfter, 'temporarily_unavailable', 'Try again shortly');
        if (isDatabaseUnavailable(err)) {
          (req.log ?? logger).error({ err }, 'oauth token endpoint: database unavailable');
          return sendRetryLater(res, 503, 5, 'temporarily_unavailable', 'Try again shortly');
        }
        if (isQueryTimeout(err)) {
          (req.log ?? logger).warn({ err }, 'oauth token endpoint: database read timed out');
          return sendRetryLater(res, 503, 5, 'temporarily_unavailable', 'Try again shortly');
        }
        (req.log ?? logger).error({ err }, 'oauth token endpoint failed');
        res.status(500).set('Cache-Control', 'no-store').json({ error: 'server_error' });
      }
    },
  );
  return router;
}
