import type { ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { freePort, spawnGuarded } from '../../src/infra/ferretdb';

/**
 * A real redis-server for one test file, never a mock. The binary is the one the jest global setup
 * resolved (a redis-server on PATH, else Debian's fetched by scripts/fetch-redis.mjs).
 */
export interface RunningRedis {
  url: string;
  port: number;
  /** The redis-server process id (a new one after each restart). */
  readonly pid: number;
  /** Stops the server and waits for it to exit. */
  stop(): Promise<void>;
  /** Stops the server and starts a new, empty one on the same port. */
  restart(): Promise<void>;
}

export interface StartRedisOptions {
  /** A fixed port; a free loopback port by default. */
  port?: number;
}

const START_TIMEOUT_MS = 20_000;
const STOP_TIMEOUT_MS = 5_000;

export async function startRedis(options: StartRedisOptions = {}): Promise<RunningRedis> {
  const binary = process.env.TEST_REDIS_SERVER;
  if (!binary) throw new Error('TEST_REDIS_SERVER is not set: test/setup/global-setup.ts resolves it');
  const dir = await mkdtemp(path.join(os.tmpdir(), 'api-test-redis-'));
  let port = options.port ?? (await freePort());
  let server: Server;
  try {
    // A port chosen here can be taken by another process before redis binds it: pick another.
    for (let attempt = 1; ; attempt++) {
      try {
        server = await launch(binary, port, dir);
        break;
      } catch (err) {
        if (options.port !== undefined || attempt === 3 || !/Address already in use/.test((err as Error).message)) {
          throw err;
        }
        port = await freePort();
      }
    }
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }

  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    get pid() {
      return server.pid;
    },
    async stop() {
      await server.stop();
      await rm(dir, { recursive: true, force: true });
    },
    async restart() {
      await server.stop();
      server = await launch(binary, port, dir);
    },
  };
}

interface Server {
  pid: number;
  stop(): Promise<void>;
}

async function launch(binary: string, port: number, dir: string): Promise<Server> {
  // No config file: memory only (no RDB snapshots, no AOF), loopback only.
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir];
  // The shell guard FerretDB runs under: redis dies with this process, even on SIGKILL.
  const child = spawnGuarded(binary, args, dir);
  let output = '';
  const collect = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-4000);
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = () => stopChild(child, exited);

  try {
    const pid = await waitForPing(port, exited);
    return { pid, stop };
  } catch (err) {
    await stop();
    throw new Error(`redis-server (${binary}) did not start on port ${port}: ${(err as Error).message}\n${output}`);
  }
}

/** Resolves with the server's process id once it answers PING. */
async function waitForPing(port: number, exited: Promise<void>): Promise<number> {
  let gone = false;
  void exited.then(() => (gone = true));
  const deadline = Date.now() + START_TIMEOUT_MS;
  let last: unknown;
  while (Date.now() < deadline) {
    if (gone) throw new Error('the process exited');
    const client = new Redis({
      host: '127.0.0.1',
      port,
      lazyConnect: true,
      retryStrategy: () => null,
      maxRetriesPerRequest: 0,
      enableOfflineQueue: false,
    });
    client.on('error', () => undefined); // each failed attempt is retried below
    try {
      await client.connect();
      if ((await client.ping()) === 'PONG') {
        const info = await client.info('server');
        return Number(/^process_id:(\d+)/m.exec(info)![1]);
      }
    } catch (err) {
      last = err;
    } finally {
      // After a refused connection the client has ended; disconnect() would then leave ioredis's
      // 2 s disconnectTimeout timer holding the process open.
      if (client.status !== 'end') client.disconnect();
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`no PONG within ${START_TIMEOUT_MS} ms (${(last as Error | undefined)?.message ?? 'no answer'})`);
}

async function stopChild(child: ChildProcess, exited: Promise<void>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  // The guard forwards TERM to redis and exits once redis has.
  child.kill('SIGTERM');
  const timer = setTimeout(() => {
    // Closing the guard's pipe makes its watcher stop redis even if the guard itself is gone.
    child.stdin?.destroy();
    child.kill('SIGKILL');
  }, STOP_TIMEOUT_MS);
  await exited;
  clearTimeout(timer);
}
