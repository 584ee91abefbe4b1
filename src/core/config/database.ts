import path from 'node:path';
import { z } from 'zod';
import { ConfigError, int, section } from './section';
import type { ServerSettings } from './server';

/** The database, and the housekeeping that deletes what has expired from it. */
export const database = section(
  {
    MONGODB_URI: z
      .string()
      .regex(/^mongodb(\+srv)?:\/\/\S+$/, 'must be a mongodb:// or mongodb+srv:// connection string')
      .optional(),
    MONGOD_BINARY: z.string().min(1).optional(),
    DB_QUERY_TIMEOUT_MS: int(1, 600_000).default(10_000),
    DATA_DIR: z.string().min(1).default('.data'),
    SESSION_CLEANUP_INTERVAL_SECONDS: int(0, 86_400).default(3600),
    AUDIT_RETENTION_DAYS: int(1, 3650).default(90),
  },
  (v, { isProduction }: ServerSettings) => {
    if (isProduction && !v.MONGODB_URI) throw new ConfigError('MONGODB_URI: is required when NODE_ENV=production');
    return {
      /** Absent outside production: the embedded database is started instead. */
      mongodbUri: v.MONGODB_URI,
      mongodBinary: v.MONGOD_BINARY,
      /** The time limit (maxTimeMS) of every database read; past it the request answers SERVICE_UNAVAILABLE. */
      dbQueryTimeoutMs: v.DB_QUERY_TIMEOUT_MS,
      dataDir: path.resolve(v.DATA_DIR),
      sessionCleanupIntervalSeconds: v.SESSION_CLEANUP_INTERVAL_SECONDS,
      /** How long audit events are kept; housekeeping deletes older ones. */
      auditRetentionDays: v.AUDIT_RETENTION_DAYS,
    };
  },
);
