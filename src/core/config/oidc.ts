import { z } from 'zod';
import { commaList, ConfigError, type Env, type Section } from './section';

/** A provider's id as OIDC_PROVIDERS lists it and clients name it: `google`, `corp`, `entra-id`. */
const PROVIDER_ID = /^[a-z][a-z0-9-]{0,31}$/;

/** Where a provider's own variables start: `OIDC_ENTRA_ID_` for `entra-id`. */
export const providerPrefix = (id: string): string => `OIDC_${id.toUpperCase().replace(/-/g, '_')}_`;

/** Every per-provider variable name, whatever the provider (for `.env.example` and Compose checks). */
export const PROVIDER_VARIABLE =
  /^OIDC_[A-Z][A-Z0-9_]*_(ISSUER|CLIENT_ID|CLIENT_SECRET|CLIENT_SECRET_FILE|NAME|SCOPES)$/;

/** A provider's client secret (also readable from `<name>_FILE`). */
export const isProviderSecret = (name: string): boolean => /^OIDC_[A-Z][A-Z0-9_]*_CLIENT_SECRET$/.test(name);

const providerIds = z
  .string()
  .transform(commaList)
  .pipe(
    z
      .array(z.string().regex(PROVIDER_ID, 'must be provider ids such as google,corp (a-z, 0-9 and -, from a letter)'))
      .refine((ids) => new Set(ids).size === ids.length, 'must not name a provider twice'),
  );

/** localhost, 127.0.0.0/8 or [::1]: where an http issuer is accepted (a local provider, the tests). */
export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '[::1]' || /^127(\.\d{1,3}){3}$/.test(host);
}

/** An issuer: https, or http on a loopback address (a local identity provider, the tests). */
const issuer = z
  .url({ error: 'must be the issuer URL, such as https://accounts.google.com' })
  .refine((s) => {
    const url = new URL(s);
    return (
      !url.search && !url.hash && (url.protocol === 'https:' || (url.protocol === 'http:' && isLoopback(url.hostname)))
    );
  }, 'must be an https:// URL without query or fragment (http:// only on a loopback address)')
  .transform((s) => s.replace(/\/+$/, ''));

const redirectUris = z
  .string()
  .transform(commaList)
  .pipe(
    z.array(
      z
        .url({ error: 'must be a comma-separated list of absolute URLs such as https://app.example.com/auth/callback' })
        // The callback adds its own query (code, state): a redirect URI with one could never match.
        .refine((s) => !URL.canParse(s) || !/[?#]/.test(s), 'must be URLs without query or fragment')
        .transform((s) => new URL(s).href),
    ),
  );

/** The variables of the providers OIDC_PROVIDERS names (it is read leniently here; its own schema reports errors). */
function providerVariables(env: Env): z.ZodRawShape {
  const ids = commaList(env.OIDC_PROVIDERS ?? '').filter((id) => PROVIDER_ID.test(id));
  return Object.assign(
    {},
    ...ids.map((id) => {
      const p = providerPrefix(id);
      return {
        [`${p}ISSUER`]: issuer,
        [`${p}CLIENT_ID`]: z.string().min(1, 'must not be empty'),
        [`${p}CLIENT_SECRET`]: z.string().min(1, 'must not be empty'),
        [`${p}NAME`]: z.string().trim().min(1).max(64, 'must be at most 64 characters').optional(),
        [`${p}SCOPES`]: z
          .string()
          .regex(/^[\x21-\x7e]+( [\x21-\x7e]+)*$/, 'must be scopes separated by single spaces')
          .refine((s) => s.split(' ').includes('openid'), 'must include openid')
          .optional(),
      };
    }),
  );
}

export interface OidcProviderSettings {
  id: string;
  /** Shown on sign-in buttons. */
  name: string;
  issuer: string;
  clientId: string;
  clientSecret: string;
  scopes: string;
}

/** Sign-in through OpenID Connect providers (src/social): which ones, and where browsers come back. */
export const oidc: Section<{ oidc: { providers: OidcProviderSettings[]; redirectUris: string[] } }, unknown> = {
  variables: { OIDC_PROVIDERS: providerIds.optional(), OIDC_REDIRECT_URIS: redirectUris.optional() },
  dynamicVariables: providerVariables,
  build: (v) => {
    const ids = (v.OIDC_PROVIDERS as string[] | undefined) ?? [];
    const uris = (v.OIDC_REDIRECT_URIS as string[] | undefined) ?? [];
    if (ids.length && !uris.length)
      throw new ConfigError(
        'OIDC_REDIRECT_URIS: is required when OIDC_PROVIDERS is set (the pages providers send browsers back to)',
      );
    const providers = ids.map((id) => {
      const p = providerPrefix(id);
      const value = (name: string) => v[`${p}${name}`] as string | undefined;
      return {
        id,
        name: value('NAME') ?? id.charAt(0).toUpperCase() + id.slice(1),
        issuer: value('ISSUER')!,
        clientId: value('CLIENT_ID')!,
        clientSecret: value('CLIENT_SECRET')!,
        scopes: value('SCOPES') ?? 'openid email profile',
      };
    });
    return { oidc: { providers, redirectUris: uris } };
  },
};
