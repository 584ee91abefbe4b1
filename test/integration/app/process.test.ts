import { execFile, spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const ROOT = path.resolve(__dirname, '..', '..', '..');

interface Started {
  child: ChildProcessWithoutNullStreams;
  url: string;
  enginePid: number;
  lines: Array<Record<string, unknown>>;
  exit: Promise<number | null>;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function descendants(pid: number): Promise<number[]> {
  const { stdout } = await run('ps', ['-e', '-o', 'pid=,ppid=']);
  const rows = stdout
    .trim()
    .split('\n')
    .map((l) => l.trim().split(/\s+/).map(Number));
  const out: number[] = [];
  const walk = (p: number) => {
    for (const [child, parent] of rows) {
      if (parent === p) {
        out.push(child!);
        walk(child!);
      }
    }
  };
  walk(pid);
  return out;
}

async function waitUntil(check: () => boolean | Promise<boolean>, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await check()) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return check();
}

/** Starts the compiled service the way `npm start` does, with the embedded database. */
function startService(dataDir: string, env: Record<string, string> = {}): Promise<Started> {
  const child = spawn(process.execPath, ['dist/index.js'], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      NODE_ENV: 'test',
      LOG_LEVEL: 'info',
      PORT: '0',
      METRICS_PORT: '0',
      HOST: '127.0.0.1',
      DATA_DIR: dataDir,
      ...env,
    },
  });
  const lines: Array<Record<string, unknown>> = [];
  const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    let enginePid = 0;
    let buffer = '';
    child.stdout.on('data', (chunk: Buffer) => {
      buffer += chunk.toString();
      let nl;
      while ((nl = buffer.indexOf('\n')) >= 0) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        try {
          const entry = JSON.parse(line) as Record<string, unknown>;
          lines.push(entry);
          if (typeof entry.pid === 'number' && entry.engine) enginePid = entry.pid;
          if (entry.msg === 'listening') resolve({ child, url: String(entry.url), enginePid, lines, exit });
        } catch {
          // not a log line
        }
      }
    });
    void exit.then((code) => reject(new Error(`service exited with ${code} before listening`)));
  });
}

describe('the service process (npm start)', () => {
  let dataDir: string;

  beforeAll(async () => {
    await run('npx', ['tsc', '-p', 'tsconfig.build.json'], { cwd: ROOT });
    dataDir = mkdtempSync(path.join(os.tmpdir(), 'api-process-test-'));
  }, 120_000);
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  it('serves /health and /ready with its embedded database, and SIGTERM stops it and the database with exit 0', async () => {
    const svc = await startService(dataDir);
    expect(svc.lines.some((l) => typeof l.msg === 'string' && l.msg.startsWith('embedded database started'))).toBe(
      true,
    );
    expect((await fetch(`${svc.url}/health`)).status).toBe(200);
    const ready = await fetch(`${svc.url}/ready`);
    expect(await ready.json()).toEqual({ status: 'ok', database: 'up' });

    const engineProcesses = [svc.enginePid, ...(await descendants(svc.enginePid))];
    expect(engineProcesses.length).toBeGreaterThanOrEqual(2);
    svc.child.kill('SIGTERM');
    expect(await svc.exit).toBe(0);
    expect(await waitUntil(() => engineProcesses.every((p) => !alive(p)), 5000)).toBe(true);
  }, 120_000);

  it('keeps development data across restarts', async () => {
    const first = await startService(dataDir);
    const email = `persist-${Date.now()}@example.com`;
    const { MongoClient } = await import('mongodb');
    const uri = String(first.lines.find((l) => l.msg === 'database connected')?.host);
    const client = await MongoClient.connect(`mongodb://${uri}/`);
    await client.db('graphql_api').collection('probe').insertOne({ email });
    await client.close();
    first.child.kill('SIGTERM');
    await first.exit;

    const second = await startService(dataDir);
    const uri2 = String(second.lines.find((l) => l.msg === 'database connected')?.host);
    const client2 = await MongoClient.connect(`mongodb://${uri2}/`);
    expect(await client2.db('graphql_api').collection('probe').findOne({ email })).toMatchObject({ email });
    await client2.close();
    second.child.kill('SIGTERM');
    expect(await second.exit).toBe(0);
  }, 120_000);

  it('leaves no database process behind even when killed with SIGKILL', async () => {
    const svc = await startService(dataDir);
    const engineProcesses = [svc.enginePid, ...(await descendants(svc.enginePid))];
    svc.child.kill('SIGKILL');
    await svc.exit;
    expect(await waitUntil(() => engineProcesses.every((p) => !alive(p)), 5000)).toBe(true);
  }, 120_000);

  it('on SIGTERM finishes a slow in-flight request, answers /ready 503 while draining, refuses new connections, exits 0', async () => {
    // A high bcrypt cost makes login take most of a second: the slow in-flight request.
    const svc = await startService(dataDir, {
      BCRYPT_COST: '14',
      SHUTDOWN_DELAY_MS: '1000',
      SHUTDOWN_TIMEOUT_MS: '10000',
    });
    const gql = (query: string) =>
      fetch(`${svc.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ query }),
      });
    const input = '{ email: "drain@example.com", password: "Draining-Horse-Battery-3" }';
    expect((await gql(`mutation { register(input: ${input}) { accessToken } }`)).status).toBe(200);

    const slow = gql(`mutation { login(input: ${input}) { accessToken } }`);
    await new Promise((r) => setTimeout(r, 150));
    const signalled = Date.now();
    svc.child.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 100));

    const ready = await fetch(`${svc.url}/ready`);
    expect(ready.status).toBe(503);
    expect(await ready.json()).toEqual({ status: 'unavailable', database: 'draining' });

    const res = await slow;
    expect(res.status).toBe(200);
    const body = (await res.json()) as { data: { login: { accessToken: string } } };
    expect(body.data.login.accessToken).toEqual(expect.any(String));

    await new Promise((r) => setTimeout(r, 1200));
    await expect(fetch(`${svc.url}/health`)).rejects.toThrow();

    expect(await svc.exit).toBe(0);
    expect(Date.now() - signalled).toBeLessThan(1000 + 10_000);
  }, 60_000);
});
