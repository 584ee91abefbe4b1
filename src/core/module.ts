import type { IRuleTypeMap } from 'graphql-shield/typings/types';
import type { Config } from './config';
import type { AuthUser, Caller } from './context';
import type { Logger } from './logger';
import type { User } from '../users/user.model';

/** A graphql-shield rule map: a type's rule, or a rule per field of that type. */
export type ShieldRules = Readonly<IRuleTypeMap>;

/** A type-graphql resolver class. */
export type ResolverClass = new (...args: never[]) => object;

export type RootType = 'Query' | 'Mutation' | 'Subscription';

/** The root fields an API-key scope opens: scope name → root type → field names. */
export type ApiKeyGrants = Readonly<Record<string, Readonly<Partial<Record<RootType, readonly string[]>>>>>;

/**
 * Audit event types and the level each is logged at: `warn` for an event worth an alert by itself
 * (a failed sign-in, a lockout, a takeover path such as a password reset), `info` otherwise.
 */
export type AuditLevels = Readonly<Record<string, 'info' | 'warn'>>;

/** The names of a feature's audit event types as constants (`UserEvent.ROLE_CHANGED`). */
export function eventNames<const L extends AuditLevels>(levels: L): { readonly [K in keyof L]: K } {
  return Object.fromEntries(Object.keys(levels).map((name) => [name, name])) as { readonly [K in keyof L]: K };
}

/** Why a user's standing credentials are revoked (the audit log records it). */
export interface Revocation {
  /** EMAIL_PROVEN: an emailed code proved an address nobody had proven (src/passwordless/account-claim.ts). */
  reason: 'USER_DISABLED' | 'PASSWORD_RESET' | 'EMAIL_PROVEN';
  /** Who caused it (an admin, or the user resetting their password). */
  actorId: string;
  ip?: string;
  userAgent?: string | null;
  logger: Logger;
}

/**
 * What happens to a user's data in other features, called by the feature that changes the user
 * (users: disable; account: password reset and deletion) without importing those features.
 */
export interface UserHooks {
  /** Ends every standing credential the feature keeps for the user (sessions, keys, links). */
  revokeCredentials?(userId: string, revocation: Revocation): Promise<unknown>;
  /**
   * Deletes what the feature keeps for a deleted user, idempotently (a deletion cut off halfway is
   * finished by running it again); answers how many documents went.
   */
  deleteUserData?(userId: string, actorId: string, logger: Logger): Promise<number>;
  /**
   * Refuses (throws, typically CONFLICT) a user's deletion the feature cannot follow through,
   * before anything is changed: an organization's last OWNER while it has other members.
   */
  assertDeletable?(userId: string): Promise<void>;
}

/** What happens to an organization's data in other features when it is deleted (items). */
export interface OrganizationHooks {
  /** Deletes what the feature keeps for a deleted organization, idempotently; answers how many documents went. */
  deleteOrganizationData?(orgId: string, actorId: string): Promise<number>;
}

/** Checks a second-factor code during sign-in: the factor that matched, or null. */
export type SecondFactorCheck = (userId: string, code: string, caller: Caller) => Promise<'totp' | 'recovery' | null>;

/** What an authentication strategy is told: the `Authorization` header, decoded by its scheme. */
export type Credentials =
  { scheme: 'bearer'; token: string } | { scheme: 'basic'; login: { name: string; secret: string } };

/** Why a credential is refused, as `extensions.reason` (and a WebSocket's close reason) tells clients. */
export type CredentialRefusal = 'TOKEN_EXPIRED' | 'TOKEN_INVALID' | 'SESSION_REVOKED';

/** A caller as a check found it, with its user document when the check read one (view fields). */
export interface Authenticated {
  user: AuthUser;
  /** So `me` answers from the check's own read instead of reading the same user again. */
  account?: User;
}

/** A credential a strategy accepted, with what it takes to check it again later. */
export interface VerifiedCredential extends Authenticated {
  /** When the credential stops being valid (epoch ms), or null when it has no end of its own. */
  expiresAt: number | null;
  /** The same for every holder of the same credential, so their checks can be shared. */
  key: string;
  /**
   * Checks the credential as it stands now without proving it again (no secret compared, no
   * sign-in attempt counted): for a WebSocket holding it, and for a remembered check.
   */
  revalidate(): Promise<Authenticated | CredentialRefusal>;
  /**
   * The authenticator may remember this check for BASIC_AUTH_CACHE_SECONDS (by an HMAC of the
   * header, never the credential) and only revalidate it on the next request: for a credential
   * that is costly to prove (a password's hash).
   */
  remember?: boolean;
}

/**
 * One way to authenticate a request's `Authorization` header (Payload's strategies are the
 * model): it claims the credentials it recognises and answers their user, or passes (undefined)
 * so the next strategy may try. A claimed credential that is wrong throws UNAUTHENTICATED with a
 * `WWW-Authenticate` challenge; a limit reached throws TOO_MANY_REQUESTS.
 */
export interface AuthStrategy {
  readonly name: string;
  /**
   * Takes every credential of its scheme (a password, an access token): tried only after the
   * strategies that recognise theirs by its form (an API key), whatever the module order.
   */
  readonly fallback?: boolean;
  authenticate(credentials: Credentials, caller: Caller): Promise<VerifiedCredential | undefined>;
}

/** Something a feature runs in the background until the server stops (a worker, a timer). */
export interface Job {
  stop(): Promise<void>;
}

/** What a feature's background work is started with. */
export interface JobContext {
  config: Config;
  logger: Logger;
  /** Per-feature settings from the server's options, by module name (tests shorten intervals). */
  settings: Readonly<Record<string, unknown>>;
}

/**
 * What a feature contributes to the application. Each feature folder exports one of these
 * (`<feature>.module.ts`); `src/app/modules.ts` lists them, and the composition root builds the
 * schema, the permission tree, the API-key gate, jobs, user hooks and the shutdown order from the
 * list. A feature never imports the composition root, and core sign-in never imports a plug-in.
 */
export interface FeatureModule {
  readonly name: string;
  /** type-graphql resolver classes. */
  readonly resolvers?: readonly ResolverClass[];
  /** graphql-shield rules for the fields and types the feature adds (deny by default elsewhere). */
  readonly rules?: ShieldRules;
  /** The root fields of this feature each API-key scope opens. */
  readonly apiKeyGrants?: ApiKeyGrants;
  /** The audit event types this feature records, each with the level its log line gets. */
  readonly auditEvents?: AuditLevels;
  /** Ways to authenticate a request this feature brings (tried in module order). */
  readonly authStrategies?: readonly AuthStrategy[];
  /** A second factor for password sign-in. */
  readonly secondFactor?: SecondFactorCheck;
  readonly userHooks?: UserHooks;
  readonly organizationHooks?: OrganizationHooks;
  /** Periodic clean-up (expired documents: FerretDB has no TTL indexes). */
  housekeeping?(config: Config): Promise<unknown>;
  /** Starts the feature's background work; stopped, in reverse module order, after HTTP closes. */
  start?(context: JobContext): Job;
  /** Lets work the feature finished answering for reach the database before shutdown. */
  flush?(config: Config): Promise<void>;
}
