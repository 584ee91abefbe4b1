import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { ConfigError, isKnownVariable, KNOWN_VARIABLES, loadConfig } from '../../src/core/config';

/** From `openssl rand -base64 48`. */
const SECRET = 'fE6H/Q+ItkN/hDrIf5jSehIadUz9cU3BoKXxXpFju0c19gw2v+HruSSzHQa1gkRz';
const PROD = {
  NODE_ENV: 'production',
  MONGODB_URI: 'mongodb://db:27017/app',
  JWT_SECRET: SECRET,
  SMTP_URL: 'smtp://mail.example.com:587',
};

function errorOf(env: Record<string, string>): string {
  try {
    loadConfig(env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error('expected a ConfigError');
}

describe('loadConfig', () => {
  it('applies the documented defaults outside production', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({ env: 'development', port: 4000, host: '0.0.0.0', logLevel: 'info', bcryptCost: 12 });
    expect(config.mongodbUri).toBeUndefined();
    expect(config.jwt).toMatchObject({ accessTokenTtl: 900, refreshTokenTtl: 30 * 86400, generated: true });
    expect(config.login).toEqual({ maxAttempts: 5, lockSeconds: 900 });
    expect(config.playground).toBe(true);
    expect(config.auditRetentionDays).toBe(90);
    expect(config.itemLimits).toEqual({ writesPerWindow: 120, maxPerUser: 10_000 });
    expect(config.dbQueryTimeoutMs).toBe(10_000);
    expect(config.rateLimit).toEqual({ windowSeconds: 60, perIp: 30, perAccount: 10, readsPerUser: 1200 });
  });

  it('runs any document by default and takes TRUSTED_DOCUMENTS=allow or only', () => {
    expect(loadConfig({}).trustedDocuments).toBe('off');
    expect(loadConfig({ TRUSTED_DOCUMENTS: 'allow' }).trustedDocuments).toBe('allow');
    expect(loadConfig({ TRUSTED_DOCUMENTS: 'only' }).trustedDocuments).toBe('only');
    expect(errorOf({ TRUSTED_DOCUMENTS: 'true' })).toMatch(/^TRUSTED_DOCUMENTS: must be off, allow or only/);
  });

  it('caps sockets before connection_init at 50 per address and 1000 in all by default, and takes other caps', () => {
    expect(loadConfig({}).realtime).toMatchObject({ maxUnauthenticatedPerIp: 50, maxUnauthenticated: 1000 });
    expect(loadConfig({ WS_MAX_UNAUTHENTICATED_PER_IP: '5', WS_MAX_UNAUTHENTICATED: '20' }).realtime).toMatchObject({
      maxUnauthenticatedPerIp: 5,
      maxUnauthenticated: 20,
    });
    // No cap of 0: it would refuse every socket.
    expect(errorOf({ WS_MAX_UNAUTHENTICATED_PER_IP: '0' })).toMatch(/^WS_MAX_UNAUTHENTICATED_PER_IP: /);
    expect(errorOf({ WS_MAX_UNAUTHENTICATED: '0' })).toMatch(/^WS_MAX_UNAUTHENTICATED: /);
  });

  it('generates a different random JWT secret per process when none is given', () => {
    const a = loadConfig({}).jwt.secret;
    const b = loadConfig({}).jwt.secret;
    expect(Buffer.byteLength(a)).toBeGreaterThanOrEqual(32);
    expect(a).not.toEqual(b);
  });

  it('returns a frozen object', () => {
    const config = loadConfig({});
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.jwt)).toBe(true);
  });

  it('treats empty strings as unset', () => {
    expect(loadConfig({ PORT: '', MONGODB_URI: '' })).toMatchObject({ port: 4000, mongodbUri: undefined });
  });

  it.each([
    [{ PORT: 'abc' }, /^PORT: must be a whole number between 0 and 65535 \(got "abc"\)$/],
    [{ PORT: '70000' }, /^PORT: must be at most 65535/],
    [{ NODE_ENV: 'staging' }, /^NODE_ENV: must be development, test or production/],
    [{ LOG_LEVEL: 'loud' }, /^LOG_LEVEL: must be one of/],
    [{ MONGODB_URI: 'postgres://x' }, /^MONGODB_URI: must be a mongodb:\/\/ or mongodb\+srv:\/\/ connection string$/],
    [{ JWT_SECRET: 'short' }, /^JWT_SECRET: must be at least 32 bytes long$/],
    [{ ACCESS_TOKEN_TTL: '0' }, /^ACCESS_TOKEN_TTL: must be at least 1/],
    [{ BCRYPT_COST: '3' }, /^BCRYPT_COST: must be at least 4/],
    [{ ADMIN_EMAIL: 'a@b.co' }, /^ADMIN_EMAIL: ADMIN_EMAIL and ADMIN_PASSWORD must be set together$/],
    [{ PLAYGROUND: 'yes' }, /^PLAYGROUND: must be "true" or "false"/],
    [{ AUDIT_RETENTION_DAYS: '0' }, /^AUDIT_RETENTION_DAYS: must be at least 1/],
    [{ AUDIT_RETENTION_DAYS: '3651' }, /^AUDIT_RETENTION_DAYS: must be at most 3650/],
    [{ WRITE_RATE_LIMIT_PER_USER: '0' }, /^WRITE_RATE_LIMIT_PER_USER: must be at least 1/],
    [{ MAX_ITEMS_PER_USER: 'many' }, /^MAX_ITEMS_PER_USER: must be a whole number/],
    [{ DB_QUERY_TIMEOUT_MS: '0' }, /^DB_QUERY_TIMEOUT_MS: must be at least 1/],
    [{ READ_RATE_LIMIT_PER_USER: '0' }, /^READ_RATE_LIMIT_PER_USER: must be at least 1/],
  ])('rejects %j with one clear line naming the variable', (env, expected) => {
    const message = errorOf(env as Record<string, string>);
    expect(message).toMatch(expected);
    expect(message).not.toContain('\n');
  });

  it('never echoes a secret value in an error', () => {
    expect(errorOf({ JWT_SECRET: 'hunter2-short' })).not.toContain('hunter2');
  });

  describe('in production', () => {
    it('accepts a complete configuration', () => {
      const config = loadConfig(PROD);
      expect(config).toMatchObject({ isProduction: true, mongodbUri: PROD.MONGODB_URI, playground: false });
      expect(config.jwt).toMatchObject({ secret: SECRET, generated: false });
    });

    it.each(['MONGODB_URI', 'JWT_SECRET'])('requires %s', (name) => {
      const env: Record<string, string> = { ...PROD };
      delete env[name];
      expect(errorOf(env)).toMatch(new RegExp(`^${name}: is required when NODE_ENV=production`));
    });

    it.each([
      ['one repeated character', 'x'.repeat(40)],
      ['a short repeated word', 'secret'.repeat(6)],
      ['a 16-character pattern repeated', 'Abc123!?xyZ-09_Q'.repeat(2)],
      ['a 16-character pattern repeated, cut short', 'Abc123!?xyZ-09_Q'.repeat(3).slice(0, 40)],
      ['two alternating characters', 'ab'.repeat(20)],
      ['few distinct characters', 'aabbccddaabbccdd-abcdabcd-dcbadcba-aaaa'],
      ['one character with a short tail', `${'a'.repeat(32)}bcdefghij`],
    ])('refuses a JWT_SECRET that is %s, saying how to generate one', (_label, secret) => {
      const message = errorOf({ ...PROD, JWT_SECRET: secret });
      expect(message).toMatch(/^JWT_SECRET: is easy to guess \(.+\) when NODE_ENV=production/);
      expect(message).toContain('openssl rand -base64 48');
      expect(message).not.toContain(secret.slice(0, 8));
      // Outside production the same value is accepted: development and tests use what they get.
      expect(loadConfig({ JWT_SECRET: secret }).jwt.secret).toBe(secret);
    });

    it('accepts random secrets from the usual generators', () => {
      const generators = [
        () => randomBytes(32).toString('base64'), // openssl rand -base64 32
        () => randomBytes(48).toString('base64'), // openssl rand -base64 48
        () => randomBytes(48).toString('base64url'),
        () => randomBytes(24).toString('base64'), // 32 characters, the shortest allowed
        () => randomBytes(16).toString('hex'), // openssl rand -hex 16
      ];
      for (const generate of generators) {
        for (let i = 0; i < 300; i++) {
          const secret = generate();
          expect(loadConfig({ ...PROD, JWT_SECRET: secret }).jwt.secret).toBe(secret);
        }
      }
    });

    it('refuses a bcrypt cost below 10', () => {
      expect(errorOf({ ...PROD, BCRYPT_COST: '9' })).toMatch(
        /^BCRYPT_COST: must be at least 10 when NODE_ENV=production/,
      );
    });
  });

  describe('API_KEY_PEPPER', () => {
    it('defaults to a key derived from JWT_SECRET: stable for one secret, never the secret itself', () => {
      const pepper = loadConfig({ JWT_SECRET: SECRET }).apiKeys.pepper;
      expect(loadConfig({ JWT_SECRET: SECRET }).apiKeys.pepper).toBe(pepper);
      expect(pepper).not.toBe(SECRET);
      expect(Buffer.from(pepper, 'base64url')).toHaveLength(32);
      expect(loadConfig({ JWT_SECRET: `${SECRET}x` }).apiKeys.pepper).not.toBe(pepper);
    });

    it('takes API_KEY_PEPPER or API_KEY_PEPPER_FILE, at least 32 bytes, never echoed', () => {
      const pepper = randomBytes(48).toString('base64');
      expect(loadConfig({ ...PROD, API_KEY_PEPPER: pepper }).apiKeys.pepper).toBe(pepper);
      const file = path.join(mkdtempSync(path.join(os.tmpdir(), 'config-test-')), 'pepper');
      writeFileSync(file, `${pepper}\n`);
      expect(loadConfig({ API_KEY_PEPPER_FILE: file }).apiKeys.pepper).toBe(pepper);
      expect(errorOf({ API_KEY_PEPPER: 'short-pepper' })).toBe('API_KEY_PEPPER: must be at least 32 bytes long');
    });

    it('refuses a guessable API_KEY_PEPPER in production only', () => {
      const weak = 'pepper'.repeat(6);
      expect(errorOf({ ...PROD, API_KEY_PEPPER: weak })).toMatch(/^API_KEY_PEPPER: is easy to guess/);
      expect(loadConfig({ API_KEY_PEPPER: weak }).apiKeys.pepper).toBe(weak);
    });
  });

  describe('TOTP_ENCRYPTION_KEY', () => {
    it('defaults to a 32-byte key derived from JWT_SECRET, apart from the API-key pepper', () => {
      const config = loadConfig({ JWT_SECRET: SECRET });
      expect(loadConfig({ JWT_SECRET: SECRET }).totp.encryptionKey).toBe(config.totp.encryptionKey);
      expect(Buffer.from(config.totp.encryptionKey, 'base64url')).toHaveLength(32);
      expect(config.totp.encryptionKey).not.toBe(config.apiKeys.pepper);
      expect(loadConfig({ JWT_SECRET: `${SECRET}x` }).totp.encryptionKey).not.toBe(config.totp.encryptionKey);
    });

    it('takes 32 bytes as base64 or hex, or from TOTP_ENCRYPTION_KEY_FILE, and refuses other lengths unechoed', () => {
      const key = randomBytes(32);
      const expected = key.toString('base64url');
      expect(loadConfig({ TOTP_ENCRYPTION_KEY: key.toString('base64') }).totp.encryptionKey).toBe(expected);
      expect(loadConfig({ TOTP_ENCRYPTION_KEY: key.toString('hex') }).totp.encryptionKey).toBe(expected);
      const file = path.join(mkdtempSync(path.join(os.tmpdir(), 'config-test-')), 'totp');
      writeFileSync(file, `${key.toString('base64')}\n`);
      expect(loadConfig({ TOTP_ENCRYPTION_KEY_FILE: file }).totp.encryptionKey).toBe(expected);
      const short = randomBytes(16).toString('base64');
      expect(errorOf({ TOTP_ENCRYPTION_KEY: short })).toMatch(/^TOTP_ENCRYPTION_KEY: must be 32 bytes/);
      expect(errorOf({ TOTP_ENCRYPTION_KEY: short })).not.toContain(short);
    });
  });

  describe('mail settings', () => {
    it('logs mail outside production without SMTP_URL, and sends over SMTP once it is set', () => {
      const config = loadConfig({ PORT: '4100' });
      expect(config.mail).toEqual({
        transport: 'log',
        smtpUrl: undefined,
        from: 'GraphQL API <no-reply@localhost>',
        maxAttempts: 8,
        publicUrl: 'http://localhost:4100',
        links: {
          verifyEmail: 'http://localhost:4100/account/verify-email?token={token}',
          resetPassword: 'http://localhost:4100/account/reset-password?token={token}',
          confirmEmailChange: 'http://localhost:4100/account/confirm-email?token={token}',
          acceptInvitation: 'http://localhost:4100/playground?invitation={token}',
        },
      });
      expect(loadConfig({ SMTP_URL: 'smtps://u:p@mail.example.com:465' }).mail).toMatchObject({
        transport: 'smtp',
        smtpUrl: 'smtps://u:p@mail.example.com:465',
      });
    });

    it('builds the default links from PUBLIC_URL (without a trailing slash) and keeps per-link templates', () => {
      const config = loadConfig({
        PUBLIC_URL: 'https://api.example.com/',
        RESET_PASSWORD_URL: 'https://app.example.com/reset/{token}',
        ACCEPT_INVITATION_URL: 'https://app.example.com/join?invitation={token}',
      });
      expect(config.mail.publicUrl).toBe('https://api.example.com');
      expect(config.mail.links).toEqual({
        verifyEmail: 'https://api.example.com/account/verify-email?token={token}',
        resetPassword: 'https://app.example.com/reset/{token}',
        confirmEmailChange: 'https://api.example.com/account/confirm-email?token={token}',
        acceptInvitation: 'https://app.example.com/join?invitation={token}',
      });
    });

    it('refuses to start in production without SMTP_URL unless MAIL_TRANSPORT=log is set explicitly', () => {
      const { SMTP_URL: _omitted, ...withoutSmtp } = PROD;
      expect(errorOf(withoutSmtp)).toMatch(/^SMTP_URL: is required when NODE_ENV=production/);
      expect(errorOf({ ...withoutSmtp, MAIL_TRANSPORT: 'smtp' })).toMatch(/^SMTP_URL: is required/);
      expect(loadConfig({ ...withoutSmtp, MAIL_TRANSPORT: 'log' }).mail.transport).toBe('log');
      expect(loadConfig(PROD).mail.transport).toBe('smtp');
    });

    it.each([
      [{ SMTP_URL: 'http://mail:25' }, /^SMTP_URL: must be an smtp:\/\/ or smtps:\/\/ URL$/],
      [{ MAIL_TRANSPORT: 'ses' }, /^MAIL_TRANSPORT: must be smtp or log/],
      [{ MAIL_TRANSPORT: 'smtp' }, /^SMTP_URL: is required when MAIL_TRANSPORT=smtp$/],
      [{ MAIL_MAX_ATTEMPTS: '0' }, /^MAIL_MAX_ATTEMPTS: must be at least 1/],
      [{ PUBLIC_URL: 'localhost:4000' }, /^PUBLIC_URL: must be an http:\/\/ or https:\/\/ URL/],
      [{ VERIFY_EMAIL_URL: 'https://app.example.com/verify' }, /^VERIFY_EMAIL_URL: must contain \{token\}/],
      [{ RESET_PASSWORD_URL: 'https://app.example.com/reset?t=token' }, /^RESET_PASSWORD_URL: must contain \{token\}/],
      [{ CONFIRM_EMAIL_CHANGE_URL: 'ftp://x/{token}' }, /^CONFIRM_EMAIL_CHANGE_URL: must be an http:\/\/ or https:/],
      [{ ACCEPT_INVITATION_URL: 'https://app.example.com/join' }, /^ACCEPT_INVITATION_URL: must contain \{token\}/],
    ])('rejects %j naming the variable', (env, expected) => {
      expect(errorOf(env as Record<string, string>)).toMatch(expected);
    });

    it('treats SMTP_URL as a secret: never echoed, and readable from SMTP_URL_FILE', () => {
      expect(errorOf({ SMTP_URL: 'imap://user:hunter2@mail' })).not.toContain('hunter2');
      const file = path.join(mkdtempSync(path.join(os.tmpdir(), 'config-smtp-')), 'smtp');
      writeFileSync(file, 'smtp://user:hunter2@mail.example.com:587\n');
      expect(loadConfig({ SMTP_URL_FILE: file }).mail.smtpUrl).toBe('smtp://user:hunter2@mail.example.com:587');
      expect(KNOWN_VARIABLES).toContain('SMTP_URL_FILE');
    });
  });

  describe('tracing (OTEL_*)', () => {
    it('is off without OTEL_EXPORTER_OTLP_ENDPOINT, whatever else is set', () => {
      expect(loadConfig({}).tracing).toBeUndefined();
      expect(loadConfig({ OTEL_TRACES_SAMPLER: 'always_on', OTEL_SERVICE_NAME: 'x' }).tracing).toBeUndefined();
    });

    it("posts to the endpoint's /v1/traces, samples parentbased_always_on by default, and takes the spec's samplers", () => {
      expect(loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://jaeger:4318/' }).tracing).toEqual({
        tracesUrl: 'http://jaeger:4318/v1/traces',
        serviceName: 'graphql-auth-items-api',
        sampler: 'parentbased_always_on',
        samplerRatio: 1,
      });
      expect(
        loadConfig({
          OTEL_EXPORTER_OTLP_ENDPOINT: 'https://otlp.example.com/prefix',
          OTEL_SERVICE_NAME: 'items-api',
          OTEL_TRACES_SAMPLER: 'parentbased_traceidratio',
          OTEL_TRACES_SAMPLER_ARG: '0.25',
        }).tracing,
      ).toEqual({
        tracesUrl: 'https://otlp.example.com/prefix/v1/traces',
        serviceName: 'items-api',
        sampler: 'parentbased_traceidratio',
        samplerRatio: 0.25,
      });
    });

    it.each([
      [
        { OTEL_EXPORTER_OTLP_ENDPOINT: 'jaeger:4318' },
        /^OTEL_EXPORTER_OTLP_ENDPOINT: must be an http:\/\/ or https:\/\/ URL/,
      ],
      [{ OTEL_TRACES_SAMPLER: 'jaeger_remote' }, /^OTEL_TRACES_SAMPLER: must be one of always_on, always_off, /],
      [{ OTEL_TRACES_SAMPLER_ARG: '1.5' }, /^OTEL_TRACES_SAMPLER_ARG: must be a ratio between 0 and 1/],
      [{ OTEL_TRACES_SAMPLER_ARG: '-0.1' }, /^OTEL_TRACES_SAMPLER_ARG: must be a ratio between 0 and 1/],
    ])('rejects %j naming the variable', (env, expected) => {
      expect(errorOf(env as Record<string, string>)).toMatch(expected);
    });
  });

  describe('OpenID Connect providers (OIDC_*)', () => {
    const GOOGLE = {
      OIDC_PROVIDERS: 'google, entra-id',
      OIDC_REDIRECT_URIS: 'https://app.example.com/auth/callback, http://localhost:5173/callback',
      OIDC_GOOGLE_ISSUER: 'https://accounts.google.com/',
      OIDC_GOOGLE_CLIENT_ID: 'google-client',
      OIDC_GOOGLE_CLIENT_SECRET: 'google-secret-value',
      OIDC_ENTRA_ID_ISSUER: 'https://login.microsoftonline.com/tenant/v2.0',
      OIDC_ENTRA_ID_CLIENT_ID: 'entra-client',
      OIDC_ENTRA_ID_CLIENT_SECRET: 'entra-secret-value',
      OIDC_ENTRA_ID_NAME: 'Microsoft',
      OIDC_ENTRA_ID_SCOPES: 'openid email',
    };

    it('has none by default, and reads each listed one from its own variables', () => {
      expect(loadConfig({}).oidc).toEqual({ providers: [], redirectUris: [] });
      expect(loadConfig(GOOGLE).oidc).toEqual({
        providers: [
          {
            id: 'google',
            name: 'Google',
            issuer: 'https://accounts.google.com',
            clientId: 'google-client',
            clientSecret: 'google-secret-value',
            scopes: 'openid email profile',
          },
          {
            id: 'entra-id',
            name: 'Microsoft',
            issuer: 'https://login.microsoftonline.com/tenant/v2.0',
            clientId: 'entra-client',
            clientSecret: 'entra-secret-value',
            scopes: 'openid email',
          },
        ],
        redirectUris: ['https://app.example.com/auth/callback', 'http://localhost:5173/callback'],
      });
    });

    it('stops the start with a message naming the variable', () => {
      const without = (name: string) => Object.fromEntries(Object.entries(GOOGLE).filter(([k]) => k !== name));
      expect(errorOf(without('OIDC_GOOGLE_ISSUER'))).toBe('OIDC_GOOGLE_ISSUER: is required');
      expect(errorOf(without('OIDC_ENTRA_ID_CLIENT_SECRET'))).toBe('OIDC_ENTRA_ID_CLIENT_SECRET: is required');
      expect(errorOf(without('OIDC_REDIRECT_URIS'))).toMatch(/^OIDC_REDIRECT_URIS: is required when OIDC_PROVIDERS/);
      expect(errorOf({ ...GOOGLE, OIDC_PROVIDERS: 'Google' })).toMatch(/^OIDC_PROVIDERS: must be provider ids/);
      expect(errorOf({ ...GOOGLE, OIDC_PROVIDERS: 'google,google' })).toMatch(
        /^OIDC_PROVIDERS: must not name a provider twice/,
      );
      expect(errorOf({ ...GOOGLE, OIDC_GOOGLE_ISSUER: 'http://accounts.example.com' })).toMatch(
        /^OIDC_GOOGLE_ISSUER: must be an https:\/\/ URL/,
      );
      expect(errorOf({ ...GOOGLE, OIDC_GOOGLE_SCOPES: 'email profile' })).toMatch(
        /^OIDC_GOOGLE_SCOPES: must include openid/,
      );
      expect(errorOf({ ...GOOGLE, OIDC_REDIRECT_URIS: '/callback' })).toMatch(/^OIDC_REDIRECT_URIS: must be/);
    });

    it('takes http issuers on loopback addresses only (local providers, tests)', () => {
      for (const issuer of ['http://127.0.0.1:9000', 'http://localhost:8080/realms/dev'])
        expect(loadConfig({ ...GOOGLE, OIDC_GOOGLE_ISSUER: issuer }).oidc.providers[0]!.issuer).toBe(issuer);
    });

    it('treats client secrets as secrets: never echoed, readable from _FILE', () => {
      const file = path.join(mkdtempSync(path.join(os.tmpdir(), 'config-oidc-')), 'secret');
      writeFileSync(file, 'from-a-file\n');
      const env = { ...GOOGLE, OIDC_GOOGLE_CLIENT_SECRET: '', OIDC_GOOGLE_CLIENT_SECRET_FILE: file };
      expect(loadConfig(env).oidc.providers[0]!.clientSecret).toBe('from-a-file');
      expect(errorOf({ ...GOOGLE, OIDC_GOOGLE_CLIENT_SECRET: 'x', OIDC_GOOGLE_CLIENT_SECRET_FILE: file })).toMatch(
        /set either OIDC_GOOGLE_CLIENT_SECRET or OIDC_GOOGLE_CLIENT_SECRET_FILE/,
      );
      expect(isKnownVariable('OIDC_GOOGLE_CLIENT_SECRET_FILE')).toBe(true);
      expect(isKnownVariable('OIDC_GOOGLE_COLOR')).toBe(false);
    });
  });

  describe('secrets from files (X_FILE)', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'config-test-'));

    it('reads the secret from the file, without its trailing newline', () => {
      const file = path.join(dir, 'jwt');
      writeFileSync(file, `${SECRET}\n`);
      expect(loadConfig({ JWT_SECRET_FILE: file }).jwt.secret).toBe(SECRET);
    });

    it('validates the value read from the file like a direct one', () => {
      const file = path.join(dir, 'short');
      writeFileSync(file, 'short');
      expect(errorOf({ JWT_SECRET_FILE: file })).toMatch(/^JWT_SECRET: must be at least 32 bytes long$/);
    });

    it('names the _FILE variable when the file cannot be read', () => {
      expect(errorOf({ MONGODB_URI_FILE: path.join(dir, 'missing') })).toMatch(
        /^MONGODB_URI_FILE: cannot read ".*missing" \(ENOENT\)$/,
      );
    });

    it('refuses both X and X_FILE at once', () => {
      expect(errorOf({ JWT_SECRET: SECRET, JWT_SECRET_FILE: '/dev/null' })).toMatch(
        /^JWT_SECRET: set either JWT_SECRET or JWT_SECRET_FILE, not both$/,
      );
    });
  });

  it('lists every variable it understands, including the _FILE forms', () => {
    expect(KNOWN_VARIABLES).toEqual(
      expect.arrayContaining([
        'PORT',
        'HOST',
        'NODE_ENV',
        'LOG_LEVEL',
        'MONGODB_URI',
        'JWT_SECRET',
        'JWT_SECRET_FILE',
        'MONGODB_URI_FILE',
      ]),
    );
  });
});
