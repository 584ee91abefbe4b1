// Load test (`npm run load`): a steady mix of reads, writes and logins against the compiled
// service on loopback for LOAD_SECONDS (default 60). Fails on any 5xx or connection error, and
// when resident memory at the end is more than 20% above its value after the warm-up.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const seconds = Number(process.env.LOAD_SECONDS ?? 60);
const warmup = Number(process.env.LOAD_WARMUP_SECONDS ?? 10);
const connections = Number(process.env.LOAD_CONNECTIONS ?? 10);
// The heap is capped as a container's memory limit would cap it: otherwise V8 on a 24 GiB machine
// lets garbage pile up for minutes before a full collection, and RSS says nothing about leaks.
const nodeArgs = (process.env.LOAD_NODE_ARGS ?? '--max-old-space-size=192').split(' ').filter(Boolean);
const dataDir = mkdtempSync(path.join(os.tmpdir(), 'api-load-'));

function rssKb(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)[1]);
}

function startService() {
  const child = spawn(process.execPath, [...nodeArgs, 'dist/index.js'], {
    cwd: root,
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      NODE_ENV: 'test',
      LOG_LEVEL: 'info',
      PORT: '0',
      HOST: '127.0.0.1',
      DATA_DIR: dataDir,
      BCRYPT_COST: '10',
      RATE_LIMIT_PER_IP: '100000000',
      RATE_LIMIT_PER_ACCOUNT: '100000000',
      WRITE_RATE_LIMIT_PER_USER: '100000000',
      READ_RATE_LIMIT_PER_USER: '100000000',
      MAX_ITEMS_PER_USER: '100000000',
      LOGIN_MAX_ATTEMPTS: '1000',
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    let buffer = '';
    child.stdout.on('data', (chunk) => {
      buffer += chunk;
      for (const line of buffer.split('\n')) {
        try {
          const entry = JSON.parse(line);
          if (entry.msg === 'listening') resolve({ child, url: entry.url });
        } catch {
          /* partial line */
        }
      }
    });
    child.once('exit', (code) => reject(new Error(`service exited with ${code}`)));
  });
}

async function gql(url, query, variables, token) {
  const res = await fetch(`${url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify({ query, variables }),
  });
  return res.json();
}

function run(opts) {
  return new Promise((resolve, reject) => {
    const instance = autocannon(opts, (err, result) => (err ? reject(err) : resolve(result)));
    autocannon.track(instance, { renderProgressBar: process.stdout.isTTY, renderResultsTable: false });
  });
}

const { child, url } = await startService();
let failed = false;
try {
  const email = 'load@example.com';
  const password = 'Loading-Horse-Battery-4';
  await gql(url, 'mutation($i: RegisterInput!) { register(input: $i) { accessToken } }', { i: { email, password } });
  const login = await gql(url, 'mutation($i: LoginInput!) { login(input: $i) { accessToken } }', {
    i: { email, password },
  });
  const token = login.data.login.accessToken;
  for (let i = 0; i < 200; i++) {
    await gql(
      url,
      'mutation($n: String!) { createItem(input: { name: $n, price: 1.5, tags: ["load"] }) { id } }',
      { n: `seed ${i}` },
      token,
    );
  }
  const json = { 'content-type': 'application/json' };
  const auth = { ...json, authorization: `Bearer ${token}` };
  const body = (query, variables) => JSON.stringify({ query, variables });
  // Eight reads, one write, one login (bcrypt) per round on every connection.
  const read = {
    method: 'POST',
    path: '/graphql',
    headers: auth,
    body: body('{ items(first: 20) { totalCount edges { node { id name price owner { id } } } } }'),
  };
  const me = { method: 'POST', path: '/graphql', headers: auth, body: body('{ me { id email role } }') };
  const write = {
    method: 'POST',
    path: '/graphql',
    headers: auth,
    body: body('mutation { createItem(input: { name: "load", quantity: 1 }) { id } }'),
  };
  const signIn = {
    method: 'POST',
    path: '/graphql',
    headers: json,
    body: body('mutation($i: LoginInput!) { login(input: $i) { accessToken } }', { i: { email, password } }),
  };
  const requests = [read, me, read, read, me, read, write, read, me, signIn];

  console.log(`warming up for ${warmup}s…`);
  await run({ url, connections, duration: warmup, requests });
  const rssAfterWarmup = rssKb(child.pid);
  console.log(`load for ${seconds}s with ${connections} connections…`);
  const result = await run({ url, connections, duration: seconds, requests });
  const rssAtEnd = rssKb(child.pid);

  const growth = (rssAtEnd - rssAfterWarmup) / rssAfterWarmup;
  const report = {
    requests: result.requests.total,
    requestsPerSecond: result.requests.average,
    latencyP50Ms: result.latency.p50,
    latencyP99Ms: result.latency.p99,
    status5xx: result['5xx'],
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    rssAfterWarmupMb: +(rssAfterWarmup / 1024).toFixed(1),
    rssAtEndMb: +(rssAtEnd / 1024).toFixed(1),
    rssGrowthPercent: +(growth * 100).toFixed(1),
  };
  console.table(report);
  if (report.status5xx > 0 || report.errors > 0 || report.timeouts > 0) {
    console.error('FAIL: server errors, connection errors or timeouts under load');
    failed = true;
  }
  if (growth > 0.2) {
    console.error('FAIL: resident memory grew by more than 20% after warm-up');
    failed = true;
  }
  if (!failed) console.log('load test passed');
} finally {
  child.kill('SIGTERM');
  await new Promise((r) => child.once('exit', r));
  rmSync(dataDir, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);
