import mongoose from 'mongoose';
import type { Logger } from '../core/logger';

// Filters built from client input can never carry a query operator, and unknown paths in a
// filter are an error rather than silently ignored.
mongoose.set('sanitizeFilter', true);
mongoose.set('strictQuery', true);
// While disconnected, queued operations give up after 3 s instead of mongoose's default 10 s,
// so a request fails fast with a clear error when the database is away.
mongoose.set('bufferTimeoutMS', 3000);

/** Puts a database name into a single-host connection string (`mongodb://h:p/` -> `/name`). */
export function withDatabaseName(uri: string, name: string): string {
  const match = /^(mongodb(?:\+srv)?:\/\/[^/?]+)\/?([^?]*)(\?.*)?$/.exec(uri);
  if (!match) throw new Error('not a mongodb:// connection string');
  return `${match[1]}/${name}${match[3] ?? ''}`;
}

/**
 * Marks an operator object written by our own code (`{ $gt: date }`) as trusted. With
 * sanitizeFilter on, every other object in a filter is matched literally with `$eq`.
 */
export function op<T extends object>(condition: T): T {
  return mongoose.trusted(condition) as T;
}

/** The reads of a model's collection that may go straight to the driver (see driverCollection). */
export interface DriverReads<T extends mongoose.mongo.Document> {
  findOne(
    filter: mongoose.mongo.Filter<T>,
    options?: mongoose.mongo.FindOptions,
  ): Promise<mongoose.mongo.WithId<T> | null>;
}

/**
 * A model's collection as the driver sees it, typed by its documents, for reads. For the reads
 * every request makes (authentication): mongoose's query building (casting, hooks, option merging)
 * costs more there than the read's own driver work. No sanitizeFilter on this path: callers pass
 * only values they have checked the shape of (ids matched against their pattern). Each read
 * carries the connection's time limit, as mongoose's reads do (see connectDatabase).
 */
export function driverCollection<T extends mongoose.mongo.Document>(model: {
  collection: unknown;
  db: mongoose.Connection;
}): DriverReads<T> {
  const collection = model.collection as mongoose.mongo.Collection<T>;
  return {
    findOne: (filter, options) =>
      collection.findOne(filter, { maxTimeMS: model.db.get('maxTimeMS') as number | undefined, ...options }),
  };
}

let monitorEveryConnection = false;

/**
 * Makes every connection opened from now on emit the driver's command events, whatever its
 * caller asked for: the test suite records the shape of each query it sends with them and
 * checks that a declared index serves it (test/setup/record-queries.ts).
 */
export function monitorCommandsOnEveryConnection(): void {
  monitorEveryConnection = true;
}

/**
 * Connects mongoose's default connection. `queryTimeoutMs` becomes the connection's maxTimeMS,
 * which mongoose sends with every find, findOne, countDocuments, aggregate and findOneAndUpdate
 * on it (and driverCollection with its reads; the service sends no `distinct`): the database stops such a command
 * there with MaxTimeMSExpired (code 50), which requests answer as SERVICE_UNAVAILABLE. FerretDB
 * v1 enforces it for find, aggregate (countDocuments) and findAndModify; it ignores it for the
 * `count` and `distinct` commands, which no request sends.
 */
export async function connectDatabase(
  uri: string,
  logger: Logger,
  options: { monitorCommands?: boolean; queryTimeoutMs?: number } = {},
): Promise<typeof mongoose> {
  const conn = await mongoose.connect(uri, {
    // Fail requests within a few seconds when the database is away, instead of hanging.
    serverSelectionTimeoutMS: 3000,
    connectTimeoutMS: 3000,
    // Notices a database that came back within a couple of seconds; recovery needs no restart.
    heartbeatFrequencyMS: 2000,
    socketTimeoutMS: 30_000,
    // Indexes are created explicitly at start-up (see syncIndexes), not lazily per model.
    autoIndex: false,
    autoCreate: true,
    maxPoolSize: 20,
    // Command events, for tests that count the database round trips of a request.
    monitorCommands: (options.monitorCommands ?? false) || monitorEveryConnection,
  });
  const c = conn.connection;
  c.set('maxTimeMS', options.queryTimeoutMs);
  c.on('disconnected', () => logger.warn('database disconnected'));
  c.on('reconnected', () => logger.info('database reconnected'));
  const info = await c.db!.admin().command({ buildInfo: 1 });
  // FerretDB v1 applies findAndModify and update as read-then-write without a transaction
  // (FerretDB#3040), so two conditional writes to one document can both succeed there.
  serializeWrites = typeof info.ferretdbVersion === 'string';
  logger.info(
    { database: c.name, host: `${c.host}:${c.port}`, engine: serializeWrites ? 'ferretdb' : 'mongodb' },
    'database connected',
  );
  if (serializeWrites)
    logger.warn('FerretDB: conditional writes are serialized per document in this process; run one instance');
  return conn;
}

let serializeWrites = false;
const queues = new Map<string, Promise<unknown>>();

/**
 * Runs a conditional write (compare-and-set on one document) so that it is atomic. MongoDB makes
 * each such write atomic by itself; on FerretDB the writes to one key are queued in this process.
 */
export function atomically<T>(key: string, write: () => Promise<T>): Promise<T> {
  if (!serializeWrites) return write();
  const previous = queues.get(key) ?? Promise.resolve();
  const result = previous.then(write, write);
  const tail = result.catch(() => undefined);
  queues.set(key, tail);
  void tail.then(() => {
    if (queues.get(key) === tail) queues.delete(key);
  });
  return result;
}

interface Batch<T> {
  waiting: Array<{ resolve: (value: T) => void; reject: (err: unknown) => void }>;
  write: (n: number) => Promise<T[]>;
}
const batches = new Map<string, Batch<unknown>>();

/**
 * Joins concurrent calls for one key into one write: while a write for `key` is in flight, the
 * calls that arrive wait and then go together, `write(n)` answering each of the n in order (as
 * if they had run one after the other). For counters that many requests of one caller bump at
 * once (per-user write limit, item cap): one increment of n instead of n queued round trips.
 * Every call for one key must ask for the same write; `write` runs inside `atomically(key)`.
 */
export function batched<T>(key: string, write: (n: number) => Promise<T[]>): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const running = batches.get(key) as Batch<T> | undefined;
    if (running) {
      running.waiting.push({ resolve, reject });
      return;
    }
    const batch: Batch<T> = { waiting: [{ resolve, reject }], write };
    batches.set(key, batch as Batch<unknown>);
    void (async () => {
      while (batch.waiting.length > 0) {
        const group = batch.waiting.splice(0);
        try {
          const results = await atomically(key, () => batch.write(group.length));
          group.forEach((w, i) => w.resolve(results[i]!));
        } catch (err) {
          for (const w of group) w.reject(err);
        }
      }
      batches.delete(key);
    })();
  });
}

/** Creates the indexes every registered model declares. Idempotent. */
export async function syncIndexes(): Promise<void> {
  for (const model of Object.values(mongoose.connection.models)) {
    await model.createCollection().catch(ignoreNamespaceExists);
    await model.createIndexes();
  }
}

function ignoreNamespaceExists(err: unknown): void {
  // 48 = NamespaceExists: another instance or an earlier run created it first.
  if ((err as { code?: number }).code !== 48) throw err;
}

/** True when the database answers a ping within the timeout. */
export async function pingDatabase(timeoutMs = 2000): Promise<boolean> {
  const db = mongoose.connection.db;
  if (mongoose.connection.readyState !== 1 || !db) return false;
  let timer: NodeJS.Timeout | undefined;
  try {
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error('ping timeout')), timeoutMs);
    });
    await Promise.race([db.admin().ping(), timeout]);
    return true;
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
  }
}

export async function disconnectDatabase(): Promise<void> {
  await mongoose.disconnect();
}
