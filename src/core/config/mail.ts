import { z } from 'zod';
import { ConfigError, int, section } from './section';
import type { ServerSettings } from './server';

/** A link template for a frontend's page: an http(s) URL with `{token}` where the token goes. */
const linkTemplate = z
  .string()
  .regex(/^https?:\/\/\S+$/, 'must be an http:// or https:// URL')
  .refine((s) => s.includes('{token}'), 'must contain {token}');

/** PUBLIC_URL, which the webauthn section reads too (its default relying party). */
export const publicUrlVariable = z
  .string()
  .regex(/^https?:\/\/[^\s?#]+$/, 'must be an http:// or https:// URL without query or fragment')
  .optional();

/** Where the service is reachable from a browser, without a trailing slash. */
export function publicUrlOf(value: string | undefined, port: number): string {
  return (value ?? `http://localhost:${port}`).replace(/\/+$/, '');
}

/** Account mail: how it is sent, and the links it carries. */
export const mail = section(
  {
    SMTP_URL: z
      .string()
      .regex(/^smtps?:\/\/\S+$/, 'must be an smtp:// or smtps:// URL')
      .optional(),
    MAIL_FROM: z
      .string()
      .min(3, 'must be an address such as "App <no-reply@example.com>"')
      .default('GraphQL API <no-reply@localhost>'),
    MAIL_TRANSPORT: z.enum(['smtp', 'log'], { error: 'must be smtp or log' }).optional(),
    MAIL_MAX_ATTEMPTS: int(1, 100).default(8),
    PUBLIC_URL: publicUrlVariable,
    VERIFY_EMAIL_URL: linkTemplate.optional(),
    RESET_PASSWORD_URL: linkTemplate.optional(),
    CONFIRM_EMAIL_CHANGE_URL: linkTemplate.optional(),
    ACCEPT_INVITATION_URL: linkTemplate.optional(),
  },
  (v, { isProduction, port }: ServerSettings) => {
    const transport = v.MAIL_TRANSPORT ?? (v.SMTP_URL ? 'smtp' : isProduction ? undefined : 'log');
    if (transport === undefined) {
      // Logging mail in production puts live links into the logs: only when asked for explicitly.
      throw new ConfigError('SMTP_URL: is required when NODE_ENV=production (or set MAIL_TRANSPORT=log explicitly)');
    }
    if (transport === 'smtp' && !v.SMTP_URL) {
      throw new ConfigError('SMTP_URL: is required when MAIL_TRANSPORT=smtp');
    }
    const publicUrl = publicUrlOf(v.PUBLIC_URL, port);
    return {
      mail: {
        /** `log` writes each message to the log instead of sending it (development only). */
        transport,
        smtpUrl: v.SMTP_URL,
        from: v.MAIL_FROM,
        /** Send attempts per message before it is marked failed. */
        maxAttempts: v.MAIL_MAX_ATTEMPTS,
        /** Where the service is reachable from a browser, without a trailing slash. */
        publicUrl,
        // The default pages are the self-hosted account pages (served where the playground is).
        /** Link templates, each containing `{token}`. */
        links: {
          verifyEmail: v.VERIFY_EMAIL_URL ?? `${publicUrl}/account/verify-email?token={token}`,
          resetPassword: v.RESET_PASSWORD_URL ?? `${publicUrl}/account/reset-password?token={token}`,
          confirmEmailChange: v.CONFIRM_EMAIL_CHANGE_URL ?? `${publicUrl}/account/confirm-email?token={token}`,
          // Accepting needs a signed-in session, which the account pages do not keep: by default
          // the link opens the playground with the token, for a frontend to take over.
          acceptInvitation: v.ACCEPT_INVITATION_URL ?? `${publicUrl}/playground?invitation={token}`,
        },
      },
    };
  },
);
