import { z } from 'zod';
import { account } from './config/account';
import { admin } from './config/admin';
import { auth } from './config/auth';
import { database } from './config/database';
import { http } from './config/http';
import { limits } from './config/limits';
import { mail } from './config/mail';
import { observability } from './config/observability';
import { oidc, PROVIDER_VARIABLE } from './config/oidc';
import { realtime } from './config/realtime';
import { isSecretVariable, resolveSecretFiles, SECRET_VARIABLES } from './config/secrets';
import { ConfigError, type DeepReadonly, type Env, type Section, type UnionToIntersection } from './config/section';
import { server, type ServerSettings } from './config/server';
import { webauthn } from './config/webauthn';

/**
 * The one module that reads `process.env`. Everything else receives a `Config`. Each section in
 * config/ declares its variables and the settings built from them; they are validated together here.
 */

export { ConfigError } from './config/section';
export { SECRET_VARIABLES, secretWeakness } from './config/secrets';
export { TRACE_SAMPLERS, type TraceSampler } from './config/observability';

/** Built in this order, after `server` (whose settings each may read): the first ConfigError thrown is reported. */
const SECTIONS = [database, observability, auth, account, http, limits, mail, realtime, admin, webauthn, oidc] as const;

const variables: z.ZodRawShape = Object.assign({}, server.variables, ...SECTIONS.map((s) => s.variables));
const schema = z.object(variables);

type Settings<T> = T extends Section<infer C, ServerSettings> ? C : never;

/** Every section's settings, deeply read-only. */
export type Config = DeepReadonly<ServerSettings & UnionToIntersection<Settings<(typeof SECTIONS)[number]>>>;

/** Empty strings count as unset, as shells and Compose files often produce them. */
function dropEmpty(env: Env): Env {
  return Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
}

function describe(issue: z.core.$ZodIssue, env: Env): string {
  const name = String(issue.path[0] ?? 'configuration');
  const value = env[name];
  const shown = value === undefined || isSecretVariable(name) ? '' : ` (got "${value}")`;
  const message = issue.code === 'invalid_type' && value === undefined ? 'is required' : issue.message;
  return `${name}: ${message}${shown}`;
}

export function loadConfig(source: Env = process.env): Config {
  const env = dropEmpty(resolveSecretFiles(source));
  const dynamic: z.ZodRawShape = Object.assign({}, ...SECTIONS.map((s) => s.dynamicVariables?.(env) ?? {}));
  const parsed = (Object.keys(dynamic).length ? schema.extend(dynamic) : schema).safeParse(env);
  if (!parsed.success) {
    throw new ConfigError(describe(parsed.error.issues[0]!, env));
  }
  const base = server.build(parsed.data, undefined);
  const config: Config = Object.assign({}, base, ...SECTIONS.map((s) => s.build(parsed.data, base)));
  return deepFreeze(config);
}

/** Returns a copy with the database URI filled in, e.g. once the embedded engine is up. */
export function withDatabaseUri(config: Config, mongodbUri: string): Config {
  return deepFreeze({ ...config, mongodbUri });
}

/** The variable names this module understands, for checks of Compose files and `.env.example`. */
export const KNOWN_VARIABLES: readonly string[] = [
  ...Object.keys(variables),
  ...SECRET_VARIABLES.map((s) => `${s}_FILE`),
];

/** A known name, or one of a provider's own (`OIDC_GOOGLE_ISSUER`), whose names depend on OIDC_PROVIDERS. */
export function isKnownVariable(name: string): boolean {
  return KNOWN_VARIABLES.includes(name) || PROVIDER_VARIABLE.test(name);
}

function deepFreeze<T extends object>(obj: T): T {
  for (const value of Object.values(obj)) {
    if (value && typeof value === 'object') deepFreeze(value as object);
  }
  return Object.freeze(obj);
}
