import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import path from 'node:path';

/**
 * A second API instance as its own process (only one createServer works per process: mongoose's
 * default connection and the event bus are process-wide). It runs `src/index.ts`, the same
 * entry point as `npm start`, through ts-node's transpile-only hook, so no build into dist/ is
 * needed (test/integration/app/process.test.ts owns dist/ and rebuilds it concurrently).
 */

const ROOT = path.resolve(__dirname, '..', '..');
const START_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 15_000;

export type LogLine = Record<string, unknown> & { msg?: string; level?: number };

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface Instance {
  url: string;
  child: ChildProcessWithoutNullStreams;
  /** Every JSON log line so far, in order. */
  lines: LogLine[];
  exit: Promise<Exit>;
  /** Resolves with the first log line (past or future) that `match` accepts. */
  waitForLine(match: (line: LogLine) => boolean, timeoutMs?: number, what?: string): Promise<LogLine>;
  /** SIGTERM, as an orchestrator stops it; SIGKILL if it has not exited after 15 s. */
  stop(): Promise<Exit>;
}

const running = new Set<ChildProcessWithoutNullStreams>();

// A child must never outlive the test worker, even when a test or hook fails before afterAll.
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

/** Stops every instance still running (for afterAll). */
export async function stopAllInstances(): Promise<void> {
  await Promise.all(
    [...running].map(
      (child) =>
        new Promise<void>((resolve) => {
          if (child.exitCode !== null || child.signalCode !== null) return resolve();
          child.once('exit', () => resolve());
          child.kill('SIGKILL');
        }),
    ),
  );
}

/**
 * Starts `src/index.ts` with `env` on top of a test baseline (loopback, an ephemeral port, JSON
 * logs at info, cheap bcrypt, no rate limits for the one test address) and resolves once it
 * logs `listening`. MONGODB_URI must be given: the instance never starts an embedded database.
 */
export function startInstance(env: Record<string, string>, options: { preload?: string[] } = {}): Promise<Instance> {
  if (!env.MONGODB_URI) throw new Error('startInstance needs MONGODB_URI (the test database to share)');
  // `preload`: modules required before src/index.ts (after ts-node, so they may be TypeScript).
  const preload = (options.preload ?? []).flatMap((file) => ['-r', file]);
  const child = spawn(process.execPath, ['-r', 'ts-node/register/transpile-only', ...preload, 'src/index.ts'], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      TS_NODE_PROJECT: path.join(ROOT, 'tsconfig.json'),
      NODE_ENV: 'test',
      LOG_LEVEL: 'info',
      PORT: '0',
      METRICS_PORT: '0',
      HOST: '127.0.0.1',
      BCRYPT_COST: '4',
      RATE_LIMIT_PER_IP: '1000000',
      RATE_LIMIT_PER_ACCOUNT: '1000000',
      WRITE_RATE_LIMIT_PER_USER: '1000000',
      READ_RATE_LIMIT_PER_USER: '1000000',
      MAIL_TRANSPORT: 'log',
      ...env,
    },
  });
  running.add(child);
  const lines: LogLine[] = [];
  const watchers = new Set<() => void>();
  let stderr = '';
  let exited: Exit | undefined;
  const exit = new Promise<Exit>((resolve) =>
    child.once('exit', (code, signal) => {
      running.delete(child);
      exited = { code, signal };
      resolve(exited);
      for (const w of [...watchers]) w();
    }),
  );
  let buffer = '';
  // Read for the whole life of the process: a full pipe would block its logging.
  child.stdout.on('data', (chunk: Buffer) => {
    buffer += chunk.toString();
    let nl;
    while ((nl = buffer.indexOf('\n')) >= 0) {
      const text = buffer.slice(0, nl);
      buffer = buffer.slice(nl + 1);
      try {
        lines.push(JSON.parse(text) as LogLine);
      } catch {
        continue; // not a log line
      }
      for (const w of [...watchers]) w();
    }
  });
  child.stderr.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });

  function waitForLine(match: (line: LogLine) => boolean, timeoutMs = 20_000, what = 'matching'): Promise<LogLine> {
    return new Promise((resolve, reject) => {
      let seen = 0;
      const check = () => {
        for (; seen < lines.length; seen++) {
          if (match(lines[seen]!)) {
            done();
            return resolve(lines[seen]!);
          }
        }
        if (exited) {
          done();
          reject(new Error(`instance exited (${JSON.stringify(exited)}) before a ${what} log line\n${stderr}`));
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`no ${what} log line within ${timeoutMs} ms\n${stderr}`));
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        watchers.delete(check);
      };
      watchers.add(check);
      check();
    });
  }

  async function stop(): Promise<Exit> {
    if (exited) return exited;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
    const result = await exit;
    clearTimeout(timer);
    return result;
  }

  return waitForLine((l) => l.msg === 'listening', START_TIMEOUT_MS, 'listening').then(
    (line) => ({ url: String(line.url), child, lines, exit, waitForLine, stop }),
    async (err: unknown) => {
      child.kill('SIGKILL');
      await exit;
      throw err;
    },
  );
}
