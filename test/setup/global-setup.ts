import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { startEmbeddedDatabase } from '../../src/infra/embedded-db';
import { ensureRedisServer } from '../../scripts/fetch-redis.mjs';

/**
 * One database engine for the whole run; each test file then uses its own database in it.
 * MONGODB_URI, when set, points the suite at an existing server instead. Redis servers are
 * started per test file (test/helpers/redis.ts) from the binary resolved here.
 */
export default async function globalSetup(): Promise<void> {
  // Resolved once here, so parallel workers never fetch Debian's redis-server at the same time.
  // A failed fetch fails the run with its own error: the Redis tests are never skipped.
  process.env.TEST_REDIS_SERVER = await ensureRedisServer();
  // Every worker appends the shapes of the queries it saw here; global-teardown.ts checks them.
  process.env.TEST_QUERY_SHAPES_DIR = await mkdtemp(path.join(os.tmpdir(), 'api-test-queries-'));
  if (process.env.MONGODB_URI) {
    process.env.TEST_MONGODB_URI = process.env.MONGODB_URI;
    return;
  }
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'api-test-db-'));
  const logger = pino({ level: process.env.TEST_LOG_LEVEL ?? 'warn' });
  const db = await startEmbeddedDatabase({
    dataDir,
    logger,
    mongodBinary: process.env.MONGOD_BINARY,
    persistent: false,
  });
  process.env.TEST_MONGODB_URI = db.uri;
  process.env.TEST_DB_ENGINE = db.engine;
  process.env.TEST_DB_PID = String(db.pid ?? '');
  (globalThis as Record<string, unknown>).__TEST_DB__ = { db, dataDir };
}
