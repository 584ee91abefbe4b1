// `npm run bench`: the service beside its same-work baseline and the transport ceiling, on one
// embedded database, driven by autocannon over loopback (A, B, A, B…; median of the runs).
//   --users N --items N --big-items N [--huge] --connections N --duration S --runs N --warmup S
//   --only me,items,orgItems,login,mixed,createItem,tracing,metrics,fanout,growth,fastify   --profile (CPU profiles of the service, the baseline and the stack floor)
//   --against <another build's dist/index.js> (measured beside the service in the me scenario)
//   --fanout-users N --fanout-sockets-per-user N --fanout-rate N --fanout-duration S --fanout-warmup S
import { fork } from 'node:child_process';
import { createHmac, createSecretKey, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import bcrypt from 'bcrypt';
import jwt from 'jsonwebtoken';
import { MongoClient, ObjectId } from 'mongodb';
import pino from 'pino';
import { renderChart } from './chart.mjs';
import { fanout } from './fanout.mjs';

const require = (await import('node:module')).createRequire(import.meta.url);
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { startEmbeddedDatabase } = require(path.join(root, 'dist/infra/embedded-db.js'));
const { withDatabaseName } = require(path.join(root, 'dist/infra/db.js'));

const { values: flags } = parseArgs({
  options: {
    users: { type: 'string', default: '50' },
    items: { type: 'string', default: '1000' },
    'big-items': { type: 'string', default: '100000' },
    huge: { type: 'boolean', default: false },
    connections: { type: 'string', default: '10' },
    duration: { type: 'string', default: '5' },
    runs: { type: 'string', default: '3' },
    warmup: { type: 'string', default: '2' },
    cost: { type: 'string', default: '10' },
    only: { type: 'string' },
    profile: { type: 'boolean', default: false },
    // Another build of the service (its dist/index.js, e.g. an older commit built in a git worktree),
    // measured beside this one in the me scenario: a regression check within one run.
    against: { type: 'string' },
    'fanout-users': { type: 'string', default: '100' },
    'fanout-sockets-per-user': { type: 'string', default: '10' },
    'fanout-rate': { type: 'string', default: '100' },
    'fanout-duration': { type: 'string', default: '60' },
    'fanout-warmup': { type: 'string', default: '5' },
  },
});
const USERS = Number(flags.users);
const SMALL = Number(flags.items);
const BIG = Number(flags['big-items']);
const HUGE = 1_000_000;
const CONNECTIONS = Number(flags.connections);
const DURATION = Number(flags.duration);
const RUNS = Math.max(3, Number(flags.runs));
const WARMUP = Number(flags.warmup);
const COST = Number(flags.cost);
const CORES = os.availableParallelism();
const JWT_SECRET = randomBytes(48).toString('base64url');
const PASSWORD = 'Benchmark-Horse-Battery-1';
const tty = process.stderr.isTTY;

const log = (...args) => console.error(...args);
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

function progress(label, done, total) {
  if (!tty) return;
  const width = 30;
  const filled = Math.round((done / total) * width);
  process.stderr.write(`\r${label} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total}`);
  if (done >= total) process.stderr.write('\n');
}

// ------------------------------------------------------------------ database and seed data

const dataDir = mkdtempSync(path.join(os.tmpdir(), 'api-bench-'));
const engine = await startEmbeddedDatabase({ dataDir, logger: pino({ level: 'warn' }), persistent: false });
log(`database: ${engine.engine} at ${engine.uri}`);
const mongo = await MongoClient.connect(engine.uri);

/** A hash in the service's current scheme (bcrypt over HMAC-SHA256 keyed by the salt), so no sign-in upgrades it. */
async function passwordHash(password, cost) {
  const salt = await bcrypt.genSalt(cost);
  const preHash = createHmac('sha256', salt).update(password, 'utf8').digest('base64');
  return `$bcrypt-sha256$${await bcrypt.hash(preHash, salt)}`;
}

/** The organization every bench user is a MEMBER of; odd-numbered items are its items. */
const ORG_ID = new ObjectId();

async function seed(dbName, itemCount, userCount = USERS, { org = true } = {}) {
  const db = mongo.db(dbName);
  const hash = await passwordHash(PASSWORD, COST);
  const now = Date.now();
  const users = Array.from({ length: userCount }, (_, i) => ({
    _id: new ObjectId(),
    email: `bench${i}@example.com`,
    passwordHash: hash,
    role: i === 0 ? 'ADMIN' : 'USER',
    disabled: false,
    tokenVersion: 0,
    createdAt: new Date(now - 86400_000),
    updatedAt: new Date(now - 86400_000),
  }));
  await db.collection('users').insertMany(users);
  if (org) {
    const at = new Date(now - 86400_000);
    await db.collection('organizations').insertOne({
      _id: ORG_ID,
      name: 'Bench org',
      slug: 'bench-org',
      createdBy: String(users[0]._id),
      memberCount: userCount,
      ownerCount: 1,
      createdAt: at,
    });
    await db.collection('memberships').insertMany(
      users.map((u, i) => ({
        orgId: String(ORG_ID),
        userId: String(u._id),
        role: i ? 'MEMBER' : 'OWNER',
        joinedAt: at,
      })),
    );
  }
  const batch = 2000;
  for (let done = 0; done < itemCount; done += batch) {
    const docs = [];
    for (let i = done; i < Math.min(itemCount, done + batch); i++) {
      const created = new Date(now - (itemCount - i) * 1000);
      const price = i % 7 === 0 ? null : (i % 500) + 0.99;
      docs.push({
        name: `Item ${i}`,
        nameKey: `item ${i}`,
        description: `Benchmark item number ${i}`,
        category: `cat${i % 20}`,
        tags: [`t${i % 10}`, `t${i % 3}`],
        price,
        priceKey: price ?? -1,
        quantity: i % 50,
        version: 1,
        ownerId: String(users[i % userCount]._id),
        orgId: org && i % 2 ? String(ORG_ID) : null,
        createdAt: created,
        updatedAt: created,
      });
    }
    await db.collection('items').insertMany(docs, { ordered: false });
    progress(`seeding ${dbName}`, Math.min(itemCount, done + batch), itemCount);
  }
  return users;
}

// ------------------------------------------------------------------ servers

async function freePort() {
  const server = net.createServer();
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Forks a server on a free loopback port and waits until it answers HTTP (any status). */
async function startProcess(name, script, env, nodeArgs = []) {
  const port = await freePort();
  const child = fork(script, [], {
    cwd: root,
    execArgv: ['-r', path.join(root, 'bench/probe.cjs'), ...nodeArgs],
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env, PORT: String(port), HOST: '127.0.0.1' },
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`${name} exited with ${child.exitCode}`);
    try {
      await fetch(`${url}/health`);
      return { name, child, url };
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  child.kill('SIGKILL');
  throw new Error(`${name} did not start within 60 s`);
}

function serviceEnv(dbName) {
  return {
    NODE_ENV: 'production',
    LOG_LEVEL: 'warn',
    PLAYGROUND: 'false',
    MONGODB_URI: withDatabaseName(engine.uri, dbName),
    JWT_SECRET,
    BCRYPT_COST: String(COST),
    RATE_LIMIT_PER_IP: '1000000000',
    RATE_LIMIT_PER_ACCOUNT: '1000000000',
    WRITE_RATE_LIMIT_PER_USER: '1000000000',
    READ_RATE_LIMIT_PER_USER: '1000000000',
    MAX_ITEMS_PER_USER: '1000000000',
    LOGIN_MAX_ATTEMPTS: '1000',
    // No SMTP server in the bench; production refuses to start without one unless told to log mail.
    MAIL_TRANSPORT: 'log',
  };
}

async function stop(proc) {
  if (!proc || proc.child.exitCode !== null) return;
  proc.child.kill('SIGTERM');
  await new Promise((r) => proc.child.once('exit', r));
}

function ask(proc, msg, reply) {
  return new Promise((resolve) => {
    const onMessage = (m) => {
      if (m.type === reply) {
        proc.child.off('message', onMessage);
        resolve(m);
      }
    };
    proc.child.on('message', onMessage);
    proc.child.send(msg);
  });
}

/** CPU seconds the process has used so far (user + system), from /proc: clock ticks of 10 ms. */
function cpuSeconds(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

function peakRssMb(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmHWM:\s+(\d+)/.exec(status)[1]) / 1024;
}

// ------------------------------------------------------------------ load

function cannon(url, request, { connections = CONNECTIONS, duration = DURATION } = {}) {
  return new Promise((resolve, reject) => {
    autocannon({ url: `${url}/graphql`, connections, duration, pipelining: 1, ...request }, (err, r) => {
      if (err) return reject(err);
      resolve({
        rps: r.requests.average,
        p50: r.latency.p50,
        p99: r.latency.p99,
        non2xx: r.non2xx,
        errors: r.errors,
        requests: r.requests.total,
      });
    });
  });
}

function gqlRequest(query, variables, token) {
  return {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify({ query, variables }),
  };
}

/**
 * Alternates A, B, A, B… after a warm-up of each, and keeps the median of each side. A target may
 * bring its own `request` (one server, two requests: `{ ...service, name, request }`).
 */
async function compare(label, targets, request) {
  for (const t of targets) await cannon(t.url, t.request ?? request, { duration: WARMUP });
  const runs = Object.fromEntries(targets.map((t) => [t.name, []]));
  for (let i = 0; i < RUNS; i++) {
    for (const t of targets) {
      // The server's own CPU per answered request: unlike rps, it does not move with what the load
      // generator and the database take of the same two cores.
      const cpuBefore = cpuSeconds(t.child.pid);
      const r = await cannon(t.url, t.request ?? request);
      r.cpuUs = r.requests ? ((cpuSeconds(t.child.pid) - cpuBefore) * 1e6) / r.requests : null;
      runs[t.name].push(r);
      progress(label, i * targets.length + targets.indexOf(t) + 1, RUNS * targets.length);
    }
  }
  const out = {};
  for (const t of targets) {
    const r = runs[t.name];
    out[t.name] = {
      rps: median(r.map((x) => x.rps)),
      p50: median(r.map((x) => x.p50)),
      p99: median(r.map((x) => x.p99)),
      non2xx: r.reduce((a, x) => a + x.non2xx + x.errors, 0),
      cpuUsPerRequest: +median(r.map((x) => x.cpuUs ?? 0)).toFixed(0),
      peakRssMb: +peakRssMb(t.child.pid).toFixed(1),
    };
  }
  return out;
}

async function tokenFor(url, email) {
  const res = await fetch(`${url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      query: 'mutation($i: LoginInput!) { login(input: $i) { accessToken } }',
      variables: { i: { email, password: PASSWORD } },
    }),
  });
  const body = await res.json();
  if (!body.data) throw new Error(`login failed: ${JSON.stringify(body)}`);
  return body.data.login.accessToken;
}

const ME = '{ me { id email role } }';
const ITEMS =
  '{ items(first: 20) { edges { cursor node { id name price tags createdAt owner { id } } } pageInfo { hasNextPage endCursor } } }';
/** The same page of one organization's items (the caller is a MEMBER). */
const ORG_ITEMS = ITEMS.replace('items(first: 20)', `items(first: 20, filter: { orgId: "${String(ORG_ID)}" })`);
const CREATE = 'mutation { createItem(input: { name: "bench item", price: 9.5, tags: ["bench"] }) { id version } }';
const LOGIN = 'mutation($i: LoginInput!) { login(input: $i) { accessToken } }';

// ------------------------------------------------------------------ micro-benchmarks

function microTokenVerify() {
  const key = createSecretKey(Buffer.from(JWT_SECRET));
  const opts = { algorithms: ['HS256'], issuer: 'graphql-auth-items-api', audience: 'graphql-auth-items-api' };
  const token = jwt.sign({ role: 'USER', tv: 0 }, key, {
    algorithm: 'HS256',
    subject: 'x',
    expiresIn: 900,
    issuer: opts.issuer,
    audience: opts.audience,
  });
  const time = (secret, n) => {
    for (let i = 0; i < 1000; i++) jwt.verify(token, secret, opts);
    const start = process.hrtime.bigint();
    for (let i = 0; i < n; i++) jwt.verify(token, secret, opts);
    return Number(process.hrtime.bigint() - start) / 1000 / n;
  };
  return { keyObjectUs: +time(key, 20000).toFixed(2), stringSecretUs: +time(JWT_SECRET, 2000).toFixed(2) };
}

async function bcryptBound() {
  const hash = await bcrypt.hash(PASSWORD, COST);
  await bcrypt.compare(PASSWORD, hash);
  const n = 8;
  const start = performance.now();
  for (let i = 0; i < n; i++) await bcrypt.compare(PASSWORD, hash);
  const ms = (performance.now() - start) / n;
  return { hashMs: +ms.toFixed(1), boundRps: +((CORES * 1000) / ms).toFixed(1) };
}

// ------------------------------------------------------------------ the run

const results = {
  date: new Date().toISOString(),
  cores: CORES,
  node: process.version,
  engine: engine.engine,
  flags,
  scenarios: {},
  micro: {},
};
const procs = [];
const wanted = (name) => !flags.only || flags.only.split(',').includes(name);
const serviceArgs = flags.profile ? ['--cpu-prof', `--cpu-prof-dir=${path.join(root, 'bench/results/profiles')}`] : [];
// Metrics on, as in production, on a free port of their own; `METRICS_PORT=0 npm run bench` measures without.
const metricsPort = async () => ({ METRICS_PORT: process.env.METRICS_PORT === '0' ? '0' : String(await freePort()) });
/** A build of the service (this one's dist/index.js, or `--against`'s) with the bench's settings. */
const startBuild = async (name, entry, dbName) =>
  startProcess(name, entry, { ...serviceEnv(dbName), ...(await metricsPort()) }, serviceArgs);
const startService = (dbName) => startBuild('service', path.join(root, 'dist/index.js'), dbName);
/**
 * A local OTLP/HTTP receiver for the tracing scenario: answers every export at once and counts the
 * spans (by their spanId keys) without decoding, so it costs the service nothing it would not pay
 * against a real collector.
 */
async function startOtlpSink() {
  const http = await import('node:http');
  const sink = { spans: 0, exports: 0 };
  const server = http.createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      sink.exports++;
      sink.spans += body.split('"spanId"').length - 1;
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  sink.url = `http://127.0.0.1:${server.address().port}`;
  sink.close = () => new Promise((resolve) => server.close(resolve));
  return sink;
}
// Profiled too, so the two profiles can be compared function by function.
const startBaseline = (dbName) =>
  startProcess('baseline', path.join(root, 'bench/baseline.mjs'), serviceEnv(dbName), serviceArgs);
// The baseline's work behind Express and Apollo only (bench/stack-floor.mjs): what the fixed stack costs.
const startStackFloor = (dbName) =>
  startProcess('floor', path.join(root, 'bench/stack-floor.mjs'), serviceEnv(dbName), serviceArgs);
// `--against`: another build of the service, with the same settings.
const startAgainst = (dbName) => startBuild('against', path.resolve(flags.against), dbName);
// The same GraphQL path on Fastify (bench/fastify-server.mjs), with the service's settings and metrics.
const startFastify = async (dbName) =>
  startProcess('fastify', path.join(root, 'bench/fastify-server.mjs'), {
    ...serviceEnv(dbName),
    ...(await metricsPort()),
  });
try {
  log('seeding…');
  await seed('bench_small', SMALL);
  // One item per user: the updates' own cost on FerretDB grows with the collection (no index use).
  if (wanted('fanout'))
    await seed('bench_fanout', Number(flags['fanout-users']), Number(flags['fanout-users']), { org: false });
  if (wanted('growth')) await seed('bench_big', BIG);
  if (wanted('growth') && flags.huge) await seed('bench_huge', HUGE);

  results.micro.tokenVerify = microTokenVerify();
  results.micro.bcrypt = await bcryptBound();

  const service = await startService('bench_small');
  const baseline = await startBaseline('bench_small');
  procs.push(service, baseline);
  const token = await tokenFor(service.url, 'bench1@example.com');

  const meReq = gqlRequest(ME, undefined, token);
  const itemsReq = gqlRequest(ITEMS, undefined, token);
  const loginReq = gqlRequest(LOGIN, { i: { email: 'bench2@example.com', password: PASSWORD } });
  const sizeOf = async (req) => (await (await fetch(`${service.url}/graphql`, req)).text()).length;
  const ceiling = async (req) => {
    const c = await startProcess('ceiling', path.join(root, 'bench/ceiling.mjs'), {
      CEILING_BYTES: String(await sizeOf(req)),
    });
    procs.push(c);
    return c;
  };

  /** Starts another server for `me` and checks it answers `me` before it is measured. */
  const startForMe = async (start) => {
    const proc = await start('bench_small');
    procs.push(proc);
    const check = await (await fetch(`${proc.url}/graphql`, meReq)).json();
    if (!check.data?.me) throw new Error(`${proc.name}: me failed: ${JSON.stringify(check)}`);
    return proc;
  };

  if (wanted('me')) {
    const floor = await startForMe(startStackFloor);
    const against = flags.against ? [await startForMe(startAgainst)] : [];
    results.scenarios.me = await compare('me', [service, baseline, floor, ...against, await ceiling(meReq)], meReq);
    await stop(floor);
  }
  if (wanted('fastify')) {
    // Express (the service) against the same stack on Fastify, alternating, for `me`.
    const f = await startForMe(startFastify);
    results.scenarios.fastify = await compare('me: express vs fastify', [service, f, baseline], meReq);
    await stop(f);
  }
  if (wanted('items'))
    results.scenarios.items = await compare(
      `items page (${SMALL} items)`,
      [service, baseline, await ceiling(itemsReq)],
      itemsReq,
    );
  if (wanted('orgItems')) {
    // The same service and caller, the personal page against the organization's (its membership
    // read and scope), alternating run by run.
    const orgItemsReq = gqlRequest(ORG_ITEMS, undefined, token);
    const check = await (await fetch(`${service.url}/graphql`, orgItemsReq)).json();
    if (check.data?.items?.edges?.length !== 20) throw new Error(`organization items: ${JSON.stringify(check)}`);
    results.scenarios.orgItems = await compare(
      `items: personal vs organization (${SMALL} items, half in the organization)`,
      [
        { ...service, name: 'personal' },
        { ...service, name: 'organization', request: orgItemsReq },
      ],
      itemsReq,
    );
  }
  if (wanted('login')) results.scenarios.login = await compare('login', [service, baseline], loginReq);

  if (wanted('mixed')) {
    // Logins saturate hashing while item pages are requested; the event loop delay is measured inside.
    const mixed = {};
    for (const target of [service, baseline]) {
      const quiet = await cannon(target.url, itemsReq);
      await ask(target, 'eld:reset', 'eld:reset');
      const [items] = await Promise.all([
        cannon(target.url, itemsReq),
        cannon(target.url, loginReq, { connections: Math.max(2, CORES * 2) }),
      ]);
      const eld = await ask(target, 'eld:read', 'eld');
      mixed[target.name] = {
        itemsP99Quiet: quiet.p99,
        itemsP99UnderLogins: items.p99,
        itemsRps: items.rps,
        eventLoopP99Ms: +eld.p99Ms.toFixed(2),
      };
      progress('mixed', Object.keys(mixed).length, 2);
    }
    results.scenarios.mixed = mixed;
  }

  // Last on this database: it grows the collection the read scenarios above page through.
  if (wanted('createItem'))
    results.scenarios.createItem = await compare(
      'createItem',
      [service, baseline],
      gqlRequest(CREATE, undefined, token),
    );

  await stop(baseline);

  if (wanted('tracing')) {
    // The cost of tracing: the same service with OpenTelemetry on, every request sampled, exporting
    // over OTLP/HTTP to a local sink, against the untraced service (A, B, A, B…) on `me`.
    const sink = await startOtlpSink();
    const traced = await startProcess(
      'traced',
      path.join(root, 'dist/index.js'),
      {
        ...serviceEnv('bench_small'),
        ...(await metricsPort()),
        OTEL_EXPORTER_OTLP_ENDPOINT: sink.url,
        OTEL_TRACES_SAMPLER: 'always_on',
      },
      serviceArgs,
    );
    procs.push(traced);
    const tracing = await compare('tracing', [service, traced], meReq);
    // Spans per request, from a counted burst: shows every request was exported whole (not dropped).
    const before = sink.spans;
    const burst = 200;
    for (let i = 0; i < burst; i += 20)
      await Promise.all(Array.from({ length: 20 }, () => fetch(`${traced.url}/graphql`, meReq).then((r) => r.text())));
    await stop(traced); // SIGTERM flushes the spans still queued
    tracing.sink = {
      exports: sink.exports,
      spans: sink.spans,
      spansPerMeRequest: +((sink.spans - before) / burst).toFixed(1),
    };
    await sink.close();
    results.scenarios.tracing = tracing;
  }
  if (wanted('metrics')) {
    // The cost of metrics: the service without its metrics listener against the one with it, on `me`.
    const bare = await startProcess('no-metrics', path.join(root, 'dist/index.js'), {
      ...serviceEnv('bench_small'),
      METRICS_PORT: '0',
    });
    procs.push(bare);
    results.scenarios.metrics = await compare('metrics', [service, bare], meReq);
    await stop(bare);
  }
  await stop(service);

  if (wanted('fanout')) {
    // Its own instance and database: 1 000 sockets as 100 users x 10 (the default
    // WS_MAX_CONNECTIONS_PER_USER). The updates go to one item of each user in turn, each sent by
    // its owner: one user's writes are serialized (write-limit counter, then the item), so a
    // single writer could not sustain 100 updates/s on FerretDB whatever the fan-out costs.
    const s = await startService('bench_fanout');
    procs.push(s);
    const users = Number(flags['fanout-users']);
    const tokens = [];
    for (let i = 0; i < users; i += 4) {
      const batch = Array.from({ length: Math.min(4, users - i) }, (_, k) =>
        tokenFor(s.url, `bench${i + k}@example.com`),
      );
      tokens.push(...(await Promise.all(batch)));
      progress('fan-out logins', tokens.length, users);
    }
    const db = mongo.db('bench_fanout');
    const tokenOf = new Map();
    for (const u of await db
      .collection('users')
      .find({}, { projection: { email: 1 } })
      .toArray())
      tokenOf.set(String(u._id), tokens[Number(/^bench(\d+)@/.exec(u.email)[1])]);
    const items = [];
    const owners = new Set();
    for (const d of await db
      .collection('items')
      .find({}, { projection: { ownerId: 1 } })
      .toArray()) {
      if (owners.has(d.ownerId)) continue;
      owners.add(d.ownerId);
      items.push({ id: String(d._id), token: tokenOf.get(d.ownerId) });
    }
    results.scenarios.fanout = await fanout({
      service: s,
      tokens,
      perUser: Number(flags['fanout-sockets-per-user']),
      items,
      rate: Number(flags['fanout-rate']),
      duration: Number(flags['fanout-duration']),
      warmup: Number(flags['fanout-warmup']),
      ask,
      log,
    });
    await stop(s);
  }

  if (wanted('growth')) {
    // The same page over a much larger collection.
    const sizes = [['bench_big', BIG], ...(flags.huge ? [['bench_huge', HUGE]] : [])];
    results.scenarios.growth = {};
    if (results.scenarios.items) results.scenarios.growth[SMALL] = results.scenarios.items;
    for (const [dbName, count] of sizes) {
      const s = await startService(dbName);
      const b = await startBaseline(dbName);
      procs.push(s, b);
      const t = await tokenFor(s.url, 'bench1@example.com');
      results.scenarios.growth[count] = await compare(
        `items page (${count} items)`,
        [s, b],
        gqlRequest(ITEMS, undefined, t),
      );
      await stop(s);
      await stop(b);
    }
  }
} finally {
  for (const p of procs) await stop(p).catch(() => undefined);
  await mongo.close();
  await engine.stop();
  rmSync(dataDir, { recursive: true, force: true });
}

// ------------------------------------------------------------------ report

const ratio = (a, b) => (a !== undefined && b ? +(a / b).toFixed(2) : null);
const s = results.scenarios;
const rows = [];
const row = (name, x) => {
  if (!x) return;
  rows.push({
    scenario: name,
    'service rps': +x.service.rps.toFixed(1),
    'baseline rps': +x.baseline.rps.toFixed(1),
    'rps ratio': ratio(x.service.rps, x.baseline.rps),
    'service p50/p99 ms': `${x.service.p50}/${x.service.p99}`,
    'baseline p50/p99 ms': `${x.baseline.p50}/${x.baseline.p99}`,
    'p99 ratio': ratio(x.service.p99, x.baseline.p99),
    'ceiling rps': x.ceiling ? +x.ceiling.rps.toFixed(0) : '',
    'service CPU µs/req': x.service.cpuUsPerRequest,
    'baseline CPU µs/req': x.baseline.cpuUsPerRequest,
    'service peak RSS MB': x.service.peakRssMb,
    errors: x.service.non2xx + x.baseline.non2xx,
  });
};
row('me', s.me);
// Express 5 + Apollo Server 5 around the baseline's work: the lowest the fixed stack goes.
if (s.me?.floor) row('me (stack floor)', { ...s.me, service: s.me.floor });
if (s.me?.against) row('me (against)', { ...s.me, service: s.me.against });
if (s.fastify) {
  row('me (express run)', s.fastify);
  row('me (fastify)', { ...s.fastify, service: s.fastify.fastify });
}
row(`items (${SMALL})`, s.items);
row('createItem', s.createItem);
row('login', s.login);
for (const [count, x] of Object.entries(s.growth ?? {})) if (Number(count) !== SMALL) row(`items (${count})`, x);
if (rows.length > 0) console.table(rows);

// Each target: the measured figure, the bound and whether it is met (null when not measured).
const target = (value, bound, met) => ({ value, bound, met: value === null || value === undefined ? null : met });
const targets = {};
if (s.me) {
  const r = ratio(s.me.service.rps, s.me.baseline.rps);
  targets['me: rps >= 0.80 x baseline'] = target(r, 0.8, r >= 0.8);
  const p = ratio(s.me.service.p99, s.me.baseline.p99);
  targets['me: p99 <= 1.3 x baseline'] = target(p, 1.3, p <= 1.3);
  // Not a target of its own: the same comparison in server CPU, steadier than rps on a shared machine.
  const c = ratio(s.me.baseline.cpuUsPerRequest, s.me.service.cpuUsPerRequest);
  targets['me: baseline CPU / service CPU per request (>= 0.80 would match the rps target)'] = target(c, 0.8, c >= 0.8);
  if (s.me.floor) {
    // Not targets: how far Express and Apollo alone are from the baseline, and the service from them.
    const f = ratio(s.me.floor.rps, s.me.baseline.rps);
    targets['me (context): stack floor rps / baseline'] = target(f, 0.8, f >= 0.8);
    const o = ratio(s.me.service.rps, s.me.floor.rps);
    targets['me (context): service rps / stack floor'] = target(o, 0.8, o >= 0.8);
  }
  if (s.me.against) {
    // Not targets: this build against the other one, in rps and in CPU per request.
    const a = ratio(s.me.service.rps, s.me.against.rps);
    targets['me (context): service rps / --against rps'] = target(a, 1, a >= 1);
    const c = ratio(s.me.service.cpuUsPerRequest, s.me.against.cpuUsPerRequest);
    targets['me (context): service CPU / --against CPU per request'] = target(c, 1, c <= 1);
  }
}
if (s.createItem) {
  const r = ratio(s.createItem.service.rps, s.createItem.baseline.rps);
  targets['createItem: rps >= 0.85 x baseline'] = target(r, 0.85, r >= 0.85);
  const p = ratio(s.createItem.service.p99, s.createItem.baseline.p99);
  targets['createItem: p99 <= 1.3 x baseline'] = target(p, 1.3, p <= 1.3);
}
if (s.items) {
  const r = ratio(s.items.service.rps, s.items.baseline.rps);
  targets['items: rps >= 0.70 x baseline'] = target(r, 0.7, r >= 0.7);
  const p = ratio(s.items.service.p99, s.items.baseline.p99);
  targets['items: p99 <= 1.5 x baseline'] = target(p, 1.5, p <= 1.5);
}
if (s.orgItems) {
  const { personal, organization } = s.orgItems;
  const r = ratio(organization.rps, personal.rps);
  targets['orgItems: organization page rps >= 0.90 x personal'] = target(r, 0.9, r >= 0.9);
  const c = ratio(organization.cpuUsPerRequest, personal.cpuUsPerRequest);
  targets['orgItems: organization page CPU per request <= 1.10 x personal'] = target(c, 1.1, c <= 1.1);
  const p = ratio(organization.p99, personal.p99);
  targets['orgItems (context): organization p99 / personal'] = target(p, 1.1, p <= 1.1);
}
if (s.tracing) {
  const r = ratio(s.tracing.traced.rps, s.tracing.service.rps);
  targets['tracing: me rps >= 0.80 x untraced (sampling 100 %)'] = target(r, 0.8, r >= 0.8);
  const p = ratio(s.tracing.traced.p99, s.tracing.service.p99);
  targets['tracing: me p99 <= 1.2 x untraced'] = target(p, 1.2, p <= 1.2);
  const c = ratio(s.tracing.traced.cpuUsPerRequest, s.tracing.service.cpuUsPerRequest);
  targets['tracing: me CPU per request <= 1.25 x untraced (= rps 0.80 x)'] = target(c, 1.25, c <= 1.25);
}
if (s.metrics) {
  const m = s.metrics;
  const c = ratio(m.service.cpuUsPerRequest, m['no-metrics'].cpuUsPerRequest);
  targets['metrics: me CPU per request <= 1.05 x without metrics'] = target(c, 1.05, c <= 1.05);
  const r = ratio(m.service.rps, m['no-metrics'].rps);
  targets['metrics: me rps >= 0.95 x without metrics'] = target(r, 0.95, r >= 0.95);
}
if (s.login) {
  const r = ratio(s.login.service.rps, results.micro.bcrypt.boundRps);
  targets['login: rps >= 0.9 x bcrypt bound'] = target(r, 0.9, r >= 0.9);
}
if (s.mixed) {
  const m = s.mixed.service;
  targets['mixed: event loop p99 < 20 ms'] = target(m.eventLoopP99Ms, 20, m.eventLoopP99Ms < 20);
  const r = ratio(m.itemsP99UnderLogins, m.itemsP99Quiet);
  targets['mixed: items p99 <= 2 x quiet'] = target(r, 2, r <= 2);
}
if (s.growth?.[BIG] && s.growth[SMALL]) {
  const r = s.growth[BIG].service.p99 ? ratio(s.growth[BIG].service.p99, s.growth[SMALL].service.p99) : null;
  targets[`growth: p99 at ${BIG} <= 1.5 x at ${SMALL}`] = target(r, 1.5, r <= 1.5);
}
if (s.fanout) {
  const f = s.fanout;
  const p99 = f.commitToReceipt?.p99 ?? null;
  targets[`fanout: commit-to-receipt p99 < 50 ms (${f.sockets} sockets, ${f.rate}/s)`] = target(p99, 50, p99 < 50);
  const growth = ratio(f.server.rssMb.end, f.server.rssMb.start);
  targets['fanout: RSS end <= 1.1 x start (memory flat)'] = target(growth, 1.1, growth <= 1.1);
  const faults = f.missing + f.duplicates + f.backwards + f.mismatched + f.errors;
  targets['fanout: every socket got every event once, in version order'] = target(faults, 0, faults === 0);
}
if (s.fastify) {
  const r = ratio(s.fastify.fastify.rps, s.fastify.service.rps);
  targets['fastify: me rps >= 1.15 x express (switch threshold)'] = target(r, 1.15, r >= 1.15);
}
const us = results.micro.tokenVerify.keyObjectUs;
targets['token verify <= 10 us'] = target(us, 10, us <= 10);
results.targets = targets;
console.table(Object.entries(targets).map(([name, t]) => ({ target: name, ...t })));
console.log('micro:', JSON.stringify(results.micro));
if (s.mixed) console.log('mixed:', JSON.stringify(s.mixed));
if (s.orgItems) console.log('orgItems:', JSON.stringify(s.orgItems));
if (s.tracing) console.log('tracing:', JSON.stringify(s.tracing));
if (s.fanout) {
  const f = s.fanout;
  const r = f.server.rssMb;
  console.log(
    `fan-out: ${f.sockets} sockets (${f.users} users), ${f.updates.succeeded}/${f.updates.scheduled} updates ` +
      `(${f.updates.skipped} skipped: 5 s in flight), ${f.achievedRate}/s answered while measuring ` +
      `(${f.warmup} s warm-up + ${f.duration} s measured)\n` +
      `  commit -> receipt ms: ${JSON.stringify(f.commitToReceipt)}\n` +
      `  send -> receipt ms:   ${JSON.stringify(f.sendToReceipt)}\n` +
      `  commit p99 per 10 s:  ${JSON.stringify(f.commitP99By10s)}\n` +
      `  updateItem over HTTP ms: ${JSON.stringify(f.updates.httpMs)}, failed: ${JSON.stringify(f.updates.failed)}\n` +
      `  delivery: ${f.received}/${f.expected} received (+${f.unacknowledged} of timed-out updates), missing ${f.missing} (on ${f.socketsMissing} sockets), ` +
      `duplicates ${f.duplicates}, versions backwards ${f.backwards}, item/version mismatches ${f.mismatched}, ` +
      `errors ${f.errors}; sockets still open ${f.open}/${f.sockets}, closes ${JSON.stringify(f.closes)}; drained in ${f.drainMs} ms\n` +
      `  server RSS MB: idle ${r.idle}, subscribed ${r.connected}, start ${r.start}, max ${r.max}, end ${r.end}; ` +
      `event loop p99 ${f.server.eventLoopP99Ms} ms (max ${f.server.eventLoopMaxMs}); ` +
      `CPU ${f.server.cpuPercent} % while measuring, ${f.server.cpuMsPerUpdate} ms per update incl. fan-out\n` +
      `  clients process: ${JSON.stringify(f.client)}`,
  );
}

const outDir = path.join(root, 'bench', 'results');
mkdirSync(outDir, { recursive: true });
const stamp = results.date.replace(/[:.]/g, '-');
writeFileSync(path.join(outDir, `${stamp}.json`), `${JSON.stringify(results, null, 2)}\n`);
writeFileSync(path.join(outDir, `${stamp}.svg`), renderChart(results));
writeFileSync(path.join(outDir, 'latest.json'), `${JSON.stringify(results, null, 2)}\n`);
writeFileSync(path.join(outDir, 'latest.svg'), renderChart(results));
log(`results: bench/results/${stamp}.json and .svg`);
process.exit(0);
