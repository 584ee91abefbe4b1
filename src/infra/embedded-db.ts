import { execFile } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import type { Logger } from '../core/logger';
import { startFerretdb } from './ferretdb';
import { PROJECT_ROOT } from '../core/paths';

const run = promisify(execFile);

export type EngineName = 'mongod' | 'ferretdb';

export interface EmbeddedDatabase {
  engine: EngineName;
  uri: string;
  dataDir: string;
  /** Process id of the engine (or of its guard), for diagnostics. */
  pid?: number;
  stop(): Promise<void>;
}

export interface EmbeddedOptions {
  dataDir: string;
  logger: Logger;
  mongodBinary?: string;
  /** Keep data on stop (development) or throw it away (tests). */
  persistent: boolean;
}

// A failed mongod download is remembered for a day so that an offline machine does not pay
// for the retries on every start.
const DOWNLOAD_FAILED_MARKER = path.join(PROJECT_ROOT, '.cache', 'mongod-download-failed');
const DOWNLOAD_RETRY_MS = 24 * 3600 * 1000;

async function findMongodOnPath(): Promise<string | undefined> {
  try {
    const { stdout } = await run('sh', ['-c', 'command -v mongod']);
    return stdout.trim() || undefined;
  } catch {
    return undefined;
  }
}

async function startMongod(opts: EmbeddedOptions, systemBinary: string): Promise<EmbeddedDatabase> {
  // Loaded lazily: a development dependency, absent from the production image.
  const { MongoMemoryServer } = await import('mongodb-memory-server-core');
  const dataDir = path.join(opts.dataDir, 'mongod');
  await mkdir(dataDir, { recursive: true });
  const server = await MongoMemoryServer.create({
    instance: { dbPath: dataDir, storageEngine: 'wiredTiger', ip: '127.0.0.1' },
    binary: { systemBinary },
  });
  return {
    engine: 'mongod',
    uri: server.getUri(),
    dataDir,
    pid: server.instanceInfo?.instance.mongodProcess?.pid,
    async stop() {
      await server.stop({ doCleanup: !opts.persistent, force: !opts.persistent });
    },
  };
}

function downloadRecentlyFailed(): boolean {
  try {
    return Date.now() - statSync(DOWNLOAD_FAILED_MARKER).mtimeMs < DOWNLOAD_RETRY_MS;
  } catch {
    return false;
  }
}

/**
 * Starts a real database engine for development and tests, in this order: a given or
 * installed `mongod`, the `mongod` that mongodb-memory-server downloads where the network
 * allows, and FerretDB (SQLite backend) built from the Go module proxy.
 */
export async function startEmbeddedDatabase(opts: EmbeddedOptions): Promise<EmbeddedDatabase> {
  const { logger } = opts;
  const systemMongod = opts.mongodBinary ?? (await findMongodOnPath());
  if (opts.mongodBinary && !existsSync(opts.mongodBinary)) {
    throw new Error(`MONGOD_BINARY: no file at "${opts.mongodBinary}"`);
  }
  if (systemMongod) {
    return startMongod(opts, systemMongod);
  }
  if (!downloadRecentlyFailed()) {
    let downloaded: string | undefined;
    try {
      // Resolve (download) the binary first, so an offline failure is quiet and quick.
      const { MongoBinary } = await import('mongodb-memory-server-core');
      downloaded = await MongoBinary.getPath();
    } catch (err) {
      const reason = (err as Error).message.split('\n')[0];
      logger.info({ reason }, 'no downloadable mongod; falling back to FerretDB');
      await mkdir(path.dirname(DOWNLOAD_FAILED_MARKER), { recursive: true });
      await writeFile(DOWNLOAD_FAILED_MARKER, `${new Date().toISOString()} ${reason}\n`).catch(() => undefined);
    }
    if (downloaded) return startMongod(opts, downloaded);
  }
  const dataDir = path.join(opts.dataDir, 'ferretdb');
  const ferret = await startFerretdb(dataDir, logger);
  return { engine: 'ferretdb', uri: ferret.uri, dataDir, pid: ferret.pid, stop: () => ferret.stop() };
}
