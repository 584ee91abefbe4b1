// The fan-out scenario's subscribers (forked by bench/fanout.mjs): many WebSockets speaking
// graphql-transport-ws with the `ws` package, each subscribed to `itemEvents`. It runs in its own
// process so that parsing ~100 000 messages a second does not share an event loop with the load
// generator. Receipt times use the same clock as the server's `at` and the sender's timestamps
// (the wall clock of this machine), read before the frame is parsed.
//
// IPC, parent -> child: start, probe-count, count, finish. Child -> parent: ready, probe-count,
// count, report, failed.
import { createHistogram, monitorEventLoopDelay, performance } from 'node:perf_hooks';
import WebSocket from 'ws';

const now = () => performance.timeOrigin + performance.now();
const histogram = () => createHistogram({ lowest: 1, highest: 600_000_000, figures: 3 });
const summary = (h) =>
  h.count === 0
    ? null
    : {
        count: h.count,
        p50: +(h.percentile(50) / 1000).toFixed(2),
        p90: +(h.percentile(90) / 1000).toFixed(2),
        p99: +(h.percentile(99) / 1000).toFixed(2),
        max: +(h.max / 1000).toFixed(2),
      };
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

let opts;
const sockets = [];
const commit = histogram();
const sent = histogram();
/** Commit-to-receipt per 10 s window of the measured phase (by send order), to show a trend. */
const windows = [];
const closes = new Map();
const eld = monitorEventLoopDelay({ resolution: 10 });
let cpuStart;
let measuredReceived = 0;

function closeKey(code, reason) {
  return `${code} ${reason}`;
}

/** One socket: its own per-item last version and which sequence numbers it saw. */
function open(url, token, index) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${url.replace(/^http/, 'ws')}/graphql`, 'graphql-transport-ws');
    const s = {
      ws,
      index,
      seen: new Uint8Array(opts.capacity),
      versions: new Map(),
      events: 0,
      probes: 0,
      duplicates: 0,
      backwards: 0,
      mismatched: 0,
      errors: 0,
      closed: null,
    };
    let settled = false;
    ws.on('message', (data) => {
      const at = now();
      const msg = JSON.parse(data.toString());
      if (msg.type === 'next') return onEvent(s, msg.payload, at);
      if (msg.type === 'connection_ack') {
        ws.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query: opts.query } }));
        settled = true;
        resolve(s);
      } else if (msg.type === 'ping') ws.send(JSON.stringify({ type: 'pong' }));
      else if (msg.type === 'error' || msg.type === 'complete') s.errors++;
    });
    ws.on('open', () =>
      ws.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${token}` } })),
    );
    ws.on('error', (err) => {
      if (!settled) reject(err);
    });
    ws.on('close', (code, reason) => {
      s.closed = closeKey(code, reason.toString());
      closes.set(s.closed, (closes.get(s.closed) ?? 0) + 1);
      if (!settled) reject(new Error(`socket ${index} closed before the ack: ${s.closed}`));
    });
  });
}

function onEvent(s, payload, receivedAt) {
  const e = payload?.data?.itemEvents;
  if (!e || payload.errors) {
    s.errors++;
    return;
  }
  // Per item, versions only go up; the same version twice is a duplicate.
  const last = s.versions.get(e.id);
  if (last !== undefined && e.version <= last) {
    if (e.version === last) s.duplicates++;
    else s.backwards++;
  } else s.versions.set(e.id, e.version);
  if (!e.item || e.item.id !== e.id || e.item.version !== e.version) s.mismatched++;
  const name = e.item?.name ?? '';
  if (name.startsWith('probe ')) {
    s.probes++;
    return;
  }
  // "fan <seq> <send time, ms since the epoch>"
  const [, seqText, sentText] = name.split(' ');
  const seq = Number(seqText);
  if (!Number.isInteger(seq) || seq < 0 || seq >= opts.capacity) {
    s.errors++;
    return;
  }
  s.events++;
  if (s.seen[seq]) return; // counted as a duplicate by its version above
  s.seen[seq] = 1;
  if (seq < opts.warmupSeqs) return;
  measuredReceived++;
  const c = Math.max(1, Math.round((receivedAt - Date.parse(e.at)) * 1000));
  const t = Math.max(1, Math.round((receivedAt - Number(sentText)) * 1000));
  commit.record(c);
  sent.record(t);
  const w = Math.floor((seq - opts.warmupSeqs) / (opts.rate * 10));
  (windows[w] ??= histogram()).record(c);
}

async function start(message) {
  opts = message;
  const { url, tokens, perUser, concurrency } = opts;
  const jobs = [];
  for (let u = 0; u < tokens.length; u++) for (let k = 0; k < perUser; k++) jobs.push([tokens[u], jobs.length]);
  let next = 0;
  const worker = async () => {
    while (next < jobs.length) {
      const [token, index] = jobs[next++];
      sockets.push(await open(url, token, index));
    }
  };
  const started = now();
  await Promise.all(Array.from({ length: concurrency }, worker));
  eld.enable();
  cpuStart = process.cpuUsage();
  process.send({ type: 'ready', sockets: sockets.length, connectMs: Math.round(now() - started) });
}

function finish({ succeeded }) {
  const cpu = process.cpuUsage(cpuStart);
  let missing = 0;
  let socketsMissing = 0;
  const totals = { events: 0, probes: 0, duplicates: 0, backwards: 0, mismatched: 0, errors: 0 };
  for (const s of sockets) {
    let m = 0;
    for (const seq of succeeded) if (seq >= opts.warmupSeqs && !s.seen[seq]) m++;
    missing += m;
    if (m > 0) socketsMissing++;
    for (const key of Object.keys(totals)) totals[key] += s[key];
  }
  const measured = succeeded.filter((seq) => seq >= opts.warmupSeqs).length;
  process.send({
    type: 'report',
    sockets: sockets.length,
    open: sockets.filter((s) => !s.closed).length,
    closes: Object.fromEntries(closes),
    expected: measured * sockets.length,
    // Of the acknowledged updates; events of updates whose response did not arrive in time
    // (committed all the same) are `unacknowledged`.
    received: measured * sockets.length - missing,
    unacknowledged: measuredReceived - (measured * sockets.length - missing),
    missing,
    socketsMissing,
    ...totals,
    commitToReceipt: summary(commit),
    sendToReceipt: summary(sent),
    commitP99By10s: windows.map((h) => summary(h)?.p99 ?? null),
    client: {
      eventLoopP99Ms: +(eld.percentile(99) / 1e6).toFixed(2),
      eventLoopMaxMs: +(eld.max / 1e6).toFixed(2),
      cpuSeconds: +((cpu.user + cpu.system) / 1e6).toFixed(1),
    },
  });
}

process.on('message', (message) => {
  if (message.type === 'start')
    start(message).catch((err) => process.send({ type: 'failed', error: String(err?.stack ?? err) }));
  else if (message.type === 'probe-count')
    process.send({ type: 'probe-count', sockets: sockets.filter((s) => s.probes > 0).length });
  else if (message.type === 'count') process.send({ type: 'count', received: measuredReceived });
  else if (message.type === 'finish') {
    finish(message);
    for (const s of sockets) s.ws.terminate();
    void sleep(100).then(() => process.exit(0));
  }
});
