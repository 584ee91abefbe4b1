import { ApiKeyEvent } from './apikey.audit';
import { createHmac, randomBytes, randomInt } from 'node:crypto';
import { sameHash } from '../core/crypto';
import { Types } from 'mongoose';
import { z } from 'zod';
import { recordAuditEvent } from '../audit/audit.service';
import { authChanged } from '../infra/auth-events';
import type { AuthUser } from '../core/context';
import type { Config } from '../core/config';
import { atomically, op } from '../infra/db';
import { ConflictError, ForbiddenError, isDuplicateKeyError, NotFoundError } from '../core/errors';
import { OBJECT_ID_HEX, parseInput, parseObjectId } from '../core/validation';
import { membershipIdOf } from '../orgs/org.access';
import { isLiveOrganization } from '../orgs/org.model';
import { User, UserModel } from '../users/user.model';
import { authUserOf } from '../users/user.actor';
import { undoUnlessUserActive } from '../users/user.guard';
import type { Actor } from '../users/user.service';
import { ApiKey, ApiKeyModel, ApiKeyScope } from './apikey.model';
import type { CreateApiKeyInput } from './apikey.inputs';

/** Recognisable by secret scanners; followed by 32 random bytes (256 bits) in base64url. */
export const SECRET_PREFIX = 'iak_';
const SECRET = /^iak_[A-Za-z0-9_-]{43}$/;
/** Shown in listings: the marker and 8 characters (48 bits), enough to tell keys apart, useless to guess. */
const SHOWN_PREFIX_LENGTH = SECRET_PREFIX.length + 8;
export const MAX_ACTIVE_KEYS = 20;
const SLOTS = Array.from({ length: MAX_ACTIVE_KEYS }, (_, i) => String(i));
/** `lastUsedAt` is written at most this often per key. */
export const LAST_USED_RESOLUTION_MS = 60_000;

const hashOf = (config: Config, secret: string) =>
  createHmac('sha256', config.apiKeys.pepper).update(secret).digest('base64url');

/** True for a Basic user name that names a key rather than an email address. */
export const isApiKeyId = (value: string): boolean => OBJECT_ID_HEX.test(value);

/** True for a Bearer credential that is an API key secret rather than an access token. */
export const isApiKeySecret = (value: string): boolean => value.startsWith(SECRET_PREFIX);

const createSchema = z.object({
  name: z.string().trim().min(1, 'must not be empty').max(100, 'must be at most 100 characters'),
  scopes: z
    .array(z.enum(ApiKeyScope))
    .min(1, 'must name at least one scope')
    .transform((s) => [...new Set(s)]),
  expiresInDays: z.number().int().min(1, 'must be at least 1').max(365, 'must be at most 365').nullish(),
});

const active = (key: Pick<ApiKey, 'revokedAt' | 'expiresAt'>, now = Date.now()) =>
  !key.revokedAt && !(key.expiresAt && key.expiresAt.getTime() <= now);

/**
 * The organization a new key is to act in: the caller must be a member (any role; the key acts
 * with their role there at each request). To anyone else it does not exist (NOT_FOUND); a site
 * ADMIN who is not a member may see it but would have no role there (FORBIDDEN).
 */
async function keyOrganization(
  actor: Actor,
  given: string | null | undefined,
  isSiteAdmin: boolean,
): Promise<{ orgId: string; membershipId: string } | null> {
  if (given === null || given === undefined) return null;
  const orgId = parseObjectId(given, 'orgId');
  const membershipId = await membershipIdOf(actor.id, orgId);
  if (membershipId) return { orgId, membershipId };
  if (isSiteAdmin && (await isLiveOrganization(orgId)))
    throw new ForbiddenError("An organization key acts with its creator's role there: join it first", {
      reason: 'ORG_ROLE',
    });
  throw new NotFoundError('No such organization');
}

/**
 * Creates a key for the caller, acting as them or, with `orgId`, only inside that organization.
 * The key takes one of the owner's free slots by inserting with a unique (owner, slot) pair:
 * parallel creations that pick the same slot collide and retry, and when no slot is free the
 * answer is CONFLICT. Expired keys give their slots back here.
 */
export async function createApiKey(
  config: Config,
  actor: Actor,
  input: CreateApiKeyInput,
  isSiteAdmin = false,
): Promise<{ apiKey: ApiKey; secret: string }> {
  const { name, scopes, expiresInDays } = parseInput(createSchema, { ...input });
  const scope = await keyOrganization(actor, input.orgId, isSiteAdmin);
  const orgId = scope?.orgId ?? null;
  const secret = SECRET_PREFIX + randomBytes(32).toString('base64url');
  const expiresAt = expiresInDays ? new Date(Date.now() + expiresInDays * 86_400_000) : null;
  for (let round = 0; round < MAX_ACTIVE_KEYS * 2; round++) {
    const slot = await freeSlot(actor.id);
    if (slot === undefined) break;
    try {
      const doc = await ApiKeyModel.create({
        name,
        prefix: secret.slice(0, SHOWN_PREFIX_LENGTH),
        scopes,
        ownerId: actor.id,
        hash: hashOf(config, secret),
        slot,
        expiresAt,
        orgId,
        membershipId: scope?.membershipId ?? null,
      });
      const apiKey = doc.toObject<ApiKey>();
      // A key written after a disable or deletion swept the owner's keys must not survive it.
      await undoUnlessUserActive(actor.id, () => ApiKeyModel.deleteOne({ _id: doc._id }), actor.tokenVersion);
      recordAuditEvent(
        {
          type: ApiKeyEvent.API_KEY_CREATED,
          userId: actor.id,
          actorId: actor.id,
          ip: actor.ip,
          userAgent: actor.userAgent,
          details: { keyId: String(apiKey._id), scopes: scopes.join(' '), ...(orgId ? { orgId } : {}) },
        },
        actor.logger,
      );
      return { apiKey, secret };
    } catch (err) {
      if (!isDuplicateKeyError(err)) throw err;
    }
  }
  throw new ConflictError(
    `You already have ${MAX_ACTIVE_KEYS} active API keys, the most one user may keep; revoke one first`,
    { maxApiKeys: MAX_ACTIVE_KEYS },
  );
}

/** A free slot of the owner's, chosen at random among the free ones (fewer collisions), or undefined. */
async function freeSlot(ownerId: string): Promise<string | undefined> {
  const taken = await ApiKeyModel.find({ ownerId, slot: op({ $in: SLOTS }) }, { slot: 1, expiresAt: 1 }).lean<
    ApiKey[]
  >();
  const used = new Set<string>();
  for (const key of taken) {
    if (active(key)) used.add(key.slot);
    else await release(key);
  }
  const free = SLOTS.filter((s) => !used.has(s));
  return free.length ? free[randomInt(free.length)] : undefined;
}

function release(key: Pick<ApiKey, '_id' | 'slot'>) {
  return atomically(`apiKey:${String(key._id)}`, () =>
    ApiKeyModel.updateOne({ _id: key._id, slot: key.slot }, { $set: { slot: `free:${String(key._id)}` } }),
  );
}

/** A user's keys that are not revoked (expired ones too, so their owner sees why they stopped), newest first. */
export function listApiKeys(ownerId: string): Promise<ApiKey[]> {
  return ApiKeyModel.find({ ownerId, revokedAt: null }).sort({ createdAt: -1, _id: -1 }).lean<ApiKey[]>();
}

/** Who revokes a key: its owner (their own keys only) or an admin (any key). */
export interface KeyRevoker extends Actor {
  isAdmin: boolean;
}

/**
 * Revokes one key: the owner's own, or any key for an admin. Another user's key (for a non-admin),
 * a revoked or an unknown one is NOT_FOUND, so keys of others cannot be probed.
 */
export async function revokeApiKey(actor: KeyRevoker, id: string): Promise<boolean> {
  if (!OBJECT_ID_HEX.test(id)) throw new NotFoundError('No such API key');
  const revoked = await revoke({ _id: id, ...(actor.isAdmin ? {} : { ownerId: actor.id }) });
  if (!revoked) throw new NotFoundError('No such API key');
  // Open WebSockets holding this key check it again at once.
  authChanged(revoked.ownerId);
  auditRevocation(actor, revoked);
  return true;
}

/**
 * Revokes every active key of a user: the account was disabled, or its password reset (the
 * recovery path of a compromised account). Returns how many were revoked.
 */
export async function revokeApiKeysOf(ownerId: string, actor: Actor, reason: string): Promise<number> {
  const keys = await ApiKeyModel.find({ ownerId, revokedAt: null }, { _id: 1 }).lean<ApiKey[]>();
  let count = 0;
  for (const key of keys) {
    const revoked = await revoke({ _id: String(key._id) });
    if (!revoked) continue;
    count++;
    auditRevocation(actor, revoked, reason);
  }
  if (count > 0) authChanged(ownerId);
  return count;
}

function revoke(filter: { _id: string; ownerId?: string }): Promise<ApiKey | null> {
  return atomically(`apiKey:${filter._id}`, () =>
    ApiKeyModel.findOneAndUpdate(
      { ...filter, revokedAt: null },
      { $set: { revokedAt: new Date(), slot: `free:${filter._id}` } },
    ).lean<ApiKey>(),
  );
}

function auditRevocation(actor: Actor, key: ApiKey, reason?: string): void {
  recordAuditEvent(
    {
      type: ApiKeyEvent.API_KEY_REVOKED,
      userId: key.ownerId,
      actorId: actor.id,
      ip: actor.ip,
      userAgent: actor.userAgent,
      details: { keyId: String(key._id), ...(reason ? { reason } : {}) },
    },
    actor.logger,
  );
}

/** Deletes every key of a user (account deletion). */
export async function deleteApiKeysOf(ownerId: string): Promise<number> {
  return (await ApiKeyModel.deleteMany({ ownerId })).deletedCount;
}

/** Why a key was refused: unknown or wrong secret, past its expiry, revoked or its owner gone/disabled. */
export type ApiKeyRefusal = 'TOKEN_INVALID' | 'TOKEN_EXPIRED' | 'SESSION_REVOKED';

export interface KeyCaller {
  user: AuthUser;
  keyId: string;
  expiresAt: Date | null;
}

/** A key presented as `id` (HTTP Basic user) and secret, or as a Bearer secret alone. */
export interface PresentedKey {
  id?: string;
  secret: string;
}

/**
 * Checks a presented key: one HMAC and one or two reads, no bcrypt. A Bearer secret is looked up
 * by its HMAC; with an id (Basic), the stored HMAC is compared in constant time.
 */
export async function authenticateApiKey(config: Config, presented: PresentedKey): Promise<KeyCaller | ApiKeyRefusal> {
  if (!SECRET.test(presented.secret)) return 'TOKEN_INVALID';
  const hash = hashOf(config, presented.secret);
  const key = presented.id
    ? await ApiKeyModel.findById(presented.id).lean<ApiKey>()
    : await ApiKeyModel.findOne({ hash }).lean<ApiKey>();
  if (!key || !sameHash(key.hash, hash)) return 'TOKEN_INVALID';
  const result = await keyCaller(key);
  if (typeof result === 'string') return result;
  await touch(key);
  return result;
}

/** Checks again a key already presented (a WebSocket holding it): no secret, no rate limit. */
export async function recheckApiKey(id: string): Promise<KeyCaller | ApiKeyRefusal> {
  const key = await ApiKeyModel.findById(id).lean<ApiKey>();
  return key ? keyCaller(key) : 'SESSION_REVOKED';
}

async function keyCaller(key: ApiKey): Promise<KeyCaller | ApiKeyRefusal> {
  if (key.revokedAt) return 'SESSION_REVOKED';
  if (key.expiresAt && key.expiresAt.getTime() <= Date.now()) return 'TOKEN_EXPIRED';
  // The owner as they stand now: a disabled or deleted owner stops every key at once; an
  // organization key, too, once its owner is no longer a member there (removed, left, or the
  // organization deleted). Their role there is read again by each request that needs it.
  const [owner, membershipId] = await Promise.all([
    UserModel.findById(key.ownerId, { email: 1, role: 1, disabled: 1, emailVerified: 1 }).lean<User>(),
    key.orgId ? membershipIdOf(key.ownerId, key.orgId) : null,
  ]);
  if (!owner || owner.disabled) return 'SESSION_REVOKED';
  // The membership it was made under, not just any: one that ended stops the key for good.
  if (key.orgId && (!membershipId || membershipId !== key.membershipId)) return 'SESSION_REVOKED';
  const apiKey = { id: String(key._id), scopes: [...key.scopes], ...(key.orgId ? { orgId: key.orgId } : {}) };
  const user = authUserOf(key.ownerId, owner, { apiKey });
  // No site ADMIN powers inside an organization: to every check, the key's caller is a USER.
  if (key.orgId) user.role = 'USER';
  return { user, keyId: String(key._id), expiresAt: key.expiresAt ?? null };
}

/** Records use at most once a minute per key: a conditional write, so parallel requests write once. */
async function touch(key: ApiKey): Promise<void> {
  const now = Date.now();
  if (key.lastUsedAt && now - key.lastUsedAt.getTime() < LAST_USED_RESOLUTION_MS) return;
  const id = new Types.ObjectId(String(key._id));
  await atomically(`apiKey:${String(key._id)}`, () =>
    ApiKeyModel.updateOne({ _id: id, lastUsedAt: key.lastUsedAt ?? null }, { $set: { lastUsedAt: new Date(now) } }),
  );
}
