// The work behind the bench's reference servers (bench/baseline.mjs, bench/stack-floor.mjs):
// graphql-js on the committed SDL, an LRU of parsed and validated documents, HS256 verification
// with a KeyObject, and the raw mongodb driver with projections and batched `$in` lookups, doing
// the same database round trips as the service for each operation.
import { createHash, createHmac, createSecretKey, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import bcrypt from 'bcrypt';
import DataLoader from 'dataloader';
import { buildSchema, parse, validate } from 'graphql';
import jwt from 'jsonwebtoken';
import { LRUCache } from 'lru-cache';
import { MongoClient, ObjectId } from 'mongodb';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const env = process.env;
const key = createSecretKey(Buffer.from(env.JWT_SECRET, 'utf8'));
const issuer = env.JWT_ISSUER ?? 'graphql-auth-items-api';
const audience = env.JWT_AUDIENCE ?? 'graphql-auth-items-api';
const ttl = Number(env.ACCESS_TOKEN_TTL ?? 900);
const windowMs = 60_000;
const maxItems = 1_000_000_000;

export const client = await MongoClient.connect(env.MONGODB_URI, { maxPoolSize: 20 });
const db = client.db();
const users = db.collection('users');
const items = db.collection('items');
const sessions = db.collection('sessions');
const counters = db.collection('rate_limits');
const quotas = db.collection('item_quotas');
const memberships = db.collection('memberships');

// What authentication reads of the user: the checks' fields and what `me` shows, so `me`
// answers from that read (as the service does), not from a second one.
const USER_FIELDS = { email: 1, displayName: 1, emailVerified: 1, role: 1, disabled: 1, createdAt: 1, tokenVersion: 1 };
// Item owners are PublicUsers: the service's owner lookup reads only the id.
const USER_VIEW_FIELDS = { _id: 1 };
const ITEM_FIELDS = {
  name: 1,
  nameKey: 1,
  description: 1,
  category: 1,
  tags: 1,
  price: 1,
  priceKey: 1,
  quantity: 1,
  version: 1,
  ownerId: 1,
  orgId: 1,
  createdAt: 1,
  updatedAt: 1,
};

export const schema = buildSchema(readFileSync(path.join(root, 'schema', 'schema.graphql'), 'utf8'));
const id = (doc) => String(doc._id);
schema.getType('User').getFields().id.resolve = id;
schema.getType('PublicUser').getFields().id.resolve = id;
schema.getType('Item').getFields().id.resolve = id;
schema.getType('Item').getFields().owner.resolve = (item, _args, ctx) => ctx.owners.load(item.ownerId);

async function hit(k) {
  const now = new Date();
  const doc = await counters.findOneAndUpdate(
    { _id: k, resetAt: { $gt: now } },
    { $inc: { count: 1 } },
    { returnDocument: 'after' },
  );
  if (doc) return doc;
  return counters.findOneAndUpdate(
    { _id: k },
    { $set: { count: 1, resetAt: new Date(now.getTime() + windowMs) } },
    { upsert: true, returnDocument: 'after' },
  );
}

export const rootValue = {
  me: (_args, ctx) => ctx.user?.account ?? null,
  items: async ({ first, filter }, ctx) => {
    const limit = first ?? 20;
    // Personal items, or one organization's after the caller's membership read, as the service does.
    const orgId = filter?.orgId ?? null;
    if (orgId && !(await memberships.findOne({ orgId, userId: ctx.user.id }, { projection: { role: 1 } })))
      throw new Error('No such organization');
    const rows = await items
      .find({ orgId }, { projection: ITEM_FIELDS })
      .sort({ createdAt: -1, _id: -1 })
      .limit(limit + 1)
      .toArray();
    const page = rows.slice(0, limit);
    const edges = page.map((node) => ({
      node,
      cursor: Buffer.from(JSON.stringify([node.createdAt.getTime(), String(node._id)])).toString('base64url'),
    }));
    return {
      edges,
      totalCount: -1,
      pageInfo: {
        hasNextPage: rows.length > limit,
        hasPreviousPage: false,
        startCursor: edges[0]?.cursor ?? null,
        endCursor: edges.at(-1)?.cursor ?? null,
      },
    };
  },
  createItem: async ({ input }, ctx) => {
    // The per-user write limit and the item-cap slot, as the service does before inserting.
    await hit(`itemWrite:user:${ctx.user.id}`);
    const slot = await quotas.updateOne({ _id: ctx.user.id, used: { $lt: maxItems } }, { $inc: { used: 1 } });
    if (slot.modifiedCount !== 1) {
      await quotas.updateOne({ _id: ctx.user.id }, { $setOnInsert: { used: 1, legacy: 0 } }, { upsert: true });
    }
    const now = new Date();
    const doc = {
      name: input.name.trim(),
      nameKey: input.name.trim().toLowerCase(),
      description: input.description ?? null,
      category: input.category ?? null,
      tags: input.tags ?? [],
      price: input.price ?? null,
      priceKey: input.price ?? -1,
      quantity: input.quantity ?? 0,
      version: 1,
      ownerId: ctx.user.id,
      counted: true,
      createdAt: now,
      updatedAt: now,
    };
    const { insertedId } = await items.insertOne(doc);
    return { ...doc, _id: insertedId };
  },
  login: async ({ input }, ctx) => {
    const email = input.email.trim().toLowerCase();
    await Promise.all([hit(`login:ip:${ctx.ip}`), hit(`login:account:${email}`)]);
    const user = await users.findOne({ email });
    // The lockout slot is taken before bcrypt and given back on success, as the service does.
    const now = new Date();
    const slot = await counters.findOneAndUpdate(
      { _id: `lockout:${email}`, resetAt: { $gt: now }, count: { $lt: 5 } },
      { $inc: { count: 1 }, $set: { resetAt: new Date(now.getTime() + 900_000) } },
      { returnDocument: 'after' },
    );
    if (!slot)
      await counters
        .insertOne({ _id: `lockout:${email}`, count: 1, resetAt: new Date(now.getTime() + 900_000) })
        .catch((err) => {
          if (err.code !== 11000) throw err;
        });
    const [prefix, stored] = [user?.passwordHash.slice(0, 15), user?.passwordHash.slice(15)];
    const preHash = stored && createHmac('sha256', stored.slice(0, 29)).update(input.password, 'utf8').digest('base64');
    if (!user || prefix !== '$bcrypt-sha256$' || !(await bcrypt.compare(preHash, stored)))
      throw new Error('Invalid email or password');
    await counters.deleteOne({ _id: `lockout:${email}` });
    const secret = randomBytes(32).toString('base64url');
    const sessionId = randomBytes(16).toString('base64url');
    await sessions.insertOne({
      _id: sessionId,
      userId: String(user._id),
      tokenHash: createHash('sha256').update(secret).digest('hex'),
      previousHashes: [],
      tokenVersion: user.tokenVersion,
      createdAt: now,
      lastUsedAt: now,
      expiresAt: new Date(now.getTime() + 30 * 86400_000),
      userAgent: null,
      revokedAt: null,
    });
    const accessToken = jwt.sign({ role: user.role, tv: user.tokenVersion, sid: sessionId }, key, {
      algorithm: 'HS256',
      subject: String(user._id),
      issuer,
      audience,
      expiresIn: ttl,
    });
    return { accessToken, refreshToken: `${sessionId}.${secret}`, tokenType: 'Bearer', expiresIn: ttl, user };
  },
};

const documents = new LRUCache({ max: 1000 });

export function prepare(query) {
  let entry = documents.get(query);
  if (!entry) {
    try {
      const document = parse(query);
      entry = { document, errors: validate(schema, document) };
    } catch (err) {
      entry = { errors: [err] };
    }
    documents.set(query, entry);
  }
  return entry;
}

export async function authenticate(header) {
  if (!header?.startsWith('Bearer ')) return null;
  const claims = jwt.verify(header.slice(7), key, { algorithms: ['HS256'], issuer, audience });
  // The user and the token's session, in parallel, as the service reads them.
  const [user, session] = await Promise.all([
    users.findOne({ _id: new ObjectId(claims.sub) }, { projection: USER_FIELDS }),
    sessions.findOne({ _id: claims.sid }, { projection: { userId: 1, revokedAt: 1, expiresAt: 1 } }),
  ]);
  if (!user || user.disabled || user.tokenVersion !== claims.tv) throw new Error('invalid token');
  if (!session || session.userId !== claims.sub || session.revokedAt || session.expiresAt <= new Date())
    throw new Error('invalid token');
  return { id: claims.sub, role: user.role, account: user };
}

/** Item owners for one request, batched into one `$in` read. */
export function ownersLoader() {
  return new DataLoader(async (ids) => {
    const found = await users
      .find({ _id: { $in: ids.map((i) => new ObjectId(i)) } }, { projection: USER_VIEW_FIELDS })
      .toArray();
    const byId = new Map(found.map((u) => [String(u._id), u]));
    return ids.map((i) => byId.get(i) ?? null);
  });
}
