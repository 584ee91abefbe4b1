import { z } from 'zod';
import { corsOriginsVariable, originList } from './http';
import { publicUrlOf, publicUrlVariable } from './mail';
import { ConfigError, int, section } from './section';
import type { ServerSettings } from './server';

/** A host name as WebAuthn takes an RP ID: no scheme, port or path. */
const hostName = z
  .string()
  .regex(
    /^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/i,
    'must be a host name such as example.com',
  )
  .transform((s) => s.toLowerCase());

/**
 * Passkeys (src/passwordless) and re-authentication. The relying party defaults follow PUBLIC_URL
 * and CORS_ORIGINS (the variables of the mail and http sections), so a frontend on another host
 * that may call the API may also register passkeys for it once WEBAUTHN_RP_ID names a domain both share.
 */
export const webauthn = section(
  {
    WEBAUTHN_RP_ID: hostName.optional(),
    WEBAUTHN_RP_NAME: z.string().trim().min(1, 'must not be empty').max(64).optional(),
    WEBAUTHN_ORIGINS: originList.optional(),
    REAUTH_WINDOW_SECONDS: int(1, 86_400).default(300),
    PUBLIC_URL: publicUrlVariable,
    CORS_ORIGINS: corsOriginsVariable,
  },
  (v, { port }: ServerSettings) => {
    const publicUrl = new URL(publicUrlOf(v.PUBLIC_URL, port));
    const rpId = v.WEBAUTHN_RP_ID ?? publicUrl.hostname;
    const rpOrigin = (origin: string) => withinRpId(new URL(origin).hostname, rpId);
    // By default the CORS origins a passkey could work for: a browser refuses the others.
    const origins = v.WEBAUTHN_ORIGINS
      ? unique(v.WEBAUTHN_ORIGINS)
      : unique([publicUrl.origin, ...v.CORS_ORIGINS]).filter(rpOrigin);
    const outside = origins.find((origin) => !rpOrigin(origin));
    if (outside) {
      throw new ConfigError(
        `WEBAUTHN_ORIGINS: ${outside} is not on ${rpId} or a subdomain of it (set WEBAUTHN_RP_ID to a domain every origin shares)`,
      );
    }
    return {
      webauthn: { rpId, rpName: v.WEBAUTHN_RP_NAME ?? 'GraphQL API', origins },
      /** How long reauthenticate lets a session make sensitive changes without the password (seconds). */
      reauthWindowSeconds: v.REAUTH_WINDOW_SECONDS,
    };
  },
);

function unique(urls: readonly string[]): string[] {
  return [...new Set(urls.map((url) => new URL(url).origin))];
}

function withinRpId(host: string, rpId: string): boolean {
  return host === rpId || host.endsWith(`.${rpId}`);
}
