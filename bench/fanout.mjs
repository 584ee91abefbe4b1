// The fan-out scenario of `npm run bench`: many subscribed WebSockets on one instance (in a child
// process, bench/fanout-clients.mjs) and a steady, open-loop stream of `updateItem` over HTTP
// from this process. Measures delivery latency (commit to receipt, and the mutation's send to
// receipt), the server's resident memory sampled every second, and whether every socket got
// every event exactly once with versions going up per item.
import { fork } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { createHistogram, performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const now = () => performance.timeOrigin + performance.now();
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export const FANOUT_QUERY = 'subscription { itemEvents { type id version at item { id name version } } }';
const UPDATE = 'mutation($id: ID!, $name: String!) { updateItem(id: $id, input: { name: $name }) { id version } }';

function rssMb(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return +(Number(/VmRSS:\s+(\d+)/.exec(status)[1]) / 1024).toFixed(1);
}

/** CPU seconds (user + system) the process has used, from /proc (clock ticks of 1/100 s). */
function cpuSeconds(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

function request(child, message, reply, timeoutMs = 600_000) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.off('message', onMessage);
      reject(new Error(`no ${reply} from the fan-out clients within ${timeoutMs} ms`));
    }, timeoutMs);
    const onMessage = (m) => {
      if (m.type === 'failed') {
        clearTimeout(timer);
        child.off('message', onMessage);
        reject(new Error(`fan-out clients failed: ${m.error}`));
      } else if (m.type === reply) {
        clearTimeout(timer);
        child.off('message', onMessage);
        resolve(m);
      }
    };
    child.on('message', onMessage);
    child.send(message);
  });
}

/**
 * @param {object} o
 * @param {{ url: string, child: import('node:child_process').ChildProcess }} o.service
 * @param {string[]} o.tokens one access token per subscribing user
 * @param {number} o.perUser sockets per user
 * @param {Array<{ id: string, token: string }>} o.items the items updated, in turn, each by its owner
 * @param {number} o.rate updates per second
 * @param {number} o.duration measured seconds
 * @param {number} o.warmup seconds at the same rate before measuring
 * @param {(proc: object, msg: string, reply: string) => Promise<object>} o.ask the probe's IPC
 * @param {(...args: unknown[]) => void} o.log
 */
export async function fanout(o) {
  const { service, rate, duration, warmup, log } = o;
  const pid = service.child.pid;
  const warmupSeqs = Math.round(rate * warmup);
  const totalSeqs = warmupSeqs + Math.round(rate * duration);
  const rss = { idle: rssMb(pid), samples: [] };

  const clients = fork(path.join(here, 'fanout-clients.mjs'), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const exited = new Promise((r) => clients.once('exit', r));
  try {
    const ready = await request(
      clients,
      {
        type: 'start',
        url: service.url,
        tokens: o.tokens,
        perUser: o.perUser,
        concurrency: 20,
        query: FANOUT_QUERY,
        capacity: totalSeqs,
        warmupSeqs,
        rate,
      },
      'ready',
    );
    log(`fan-out: ${ready.sockets} sockets subscribed in ${ready.connectMs} ms`);
    rss.connected = rssMb(pid);

    const send = async (name, item) => {
      const res = await fetch(`${service.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${item.token}` },
        body: JSON.stringify({ query: UPDATE, variables: { id: item.id, name } }),
        signal: AbortSignal.timeout(30_000),
      });
      const body = await res.json();
      if (!body.data?.updateItem) throw new Error(`updateItem failed: ${res.status} ${JSON.stringify(body.errors)}`);
      return body.data.updateItem;
    };

    // A subscription becomes active some time after its subscribe message: wait until one
    // update has reached every socket before the stream starts.
    const probeDeadline = Date.now() + 60_000;
    for (let n = 0; ; n++) {
      await send(`probe ${n}`, o.items[n % o.items.length]);
      await sleep(1000);
      const { sockets } = await request(clients, { type: 'probe-count' }, 'probe-count');
      if (sockets === ready.sockets) break;
      if (Date.now() > probeDeadline) throw new Error(`only ${sockets} of ${ready.sockets} sockets ever got an event`);
    }

    // The stream: open loop, one update every 1000/rate ms on a fixed schedule, whatever the
    // responses' latency, round-robin over the items.
    const succeeded = [];
    const failures = new Map();
    const http = createHistogram({ lowest: 1, highest: 600_000_000, figures: 3 });
    const pending = new Set();
    // Open loop, but bounded: past 5 s of updates in flight the server is not keeping up, and
    // queueing more only makes the run longer; those updates are counted as skipped instead.
    const maxInFlight = rate * 5;
    let skipped = 0;
    let cpuStart;
    let measureStart;
    const interval = 1000 / rate;
    let sampler;
    await o.ask(service, 'eld:reset', 'eld:reset');
    const t0 = now();
    for (let seq = 0; seq < totalSeqs; seq++) {
      const due = t0 + seq * interval;
      const wait = due - now();
      if (wait > 1) await sleep(wait);
      if (seq === warmupSeqs) {
        // Measuring starts: memory from here on, and the server's event loop delay.
        rss.start = rssMb(pid);
        cpuStart = cpuSeconds(pid);
        measureStart = now();
        rss.samples.push(rss.start);
        sampler = setInterval(() => rss.samples.push(rssMb(pid)), 1000);
        void o.ask(service, 'eld:reset', 'eld:reset');
      }
      if (pending.size >= maxInFlight) {
        skipped++;
        continue;
      }
      const sentAt = now();
      const p = send(`fan ${seq} ${sentAt.toFixed(3)}`, o.items[seq % o.items.length])
        .then(() => {
          succeeded.push(seq);
          if (seq >= warmupSeqs) http.record(Math.max(1, Math.round((now() - sentAt) * 1000)));
        })
        .catch((err) => {
          const key = String(err.message).slice(0, 200);
          failures.set(key, (failures.get(key) ?? 0) + 1);
        })
        .finally(() => pending.delete(p));
      pending.add(p);
      if (seq % rate === 0) log(`fan-out: ${seq}/${totalSeqs} updates sent, ${pending.size} in flight`);
    }
    const sendSeconds = (now() - t0) / 1000;
    await Promise.all(pending);
    const measuredSeconds = (now() - measureStart) / 1000;
    const cpuSending = cpuSeconds(pid) - cpuStart;
    const eld = await o.ask(service, 'eld:read', 'eld');

    // Drain: wait (up to 30 s) until every socket has every measured event.
    const measured = succeeded.filter((seq) => seq >= warmupSeqs).length;
    const drainStart = now();
    let received = 0;
    while (now() - drainStart < 30_000) {
      ({ received } = await request(clients, { type: 'count' }, 'count'));
      if (received >= measured * ready.sockets) break;
      await sleep(250);
    }
    const drainMs = Math.round(now() - drainStart);
    clearInterval(sampler);
    rss.end = rssMb(pid);
    const cpuTotal = cpuSeconds(pid) - cpuStart;
    rss.samples.push(rss.end);
    rss.max = Math.max(...rss.samples);
    const report = await request(clients, { type: 'finish', succeeded }, 'report');
    const serverEld = { eventLoopP99Ms: +eld.p99Ms.toFixed(2), eventLoopMaxMs: +eld.maxMs.toFixed(2) };
    return {
      sockets: ready.sockets,
      users: o.tokens.length,
      rate,
      sendRate: +((totalSeqs - skipped) / sendSeconds).toFixed(1),
      achievedRate: +(measured / measuredSeconds).toFixed(1),
      duration,
      warmup,
      connectMs: ready.connectMs,
      updates: {
        scheduled: totalSeqs,
        sent: totalSeqs - skipped,
        skipped,
        succeeded: succeeded.length,
        failed: Object.fromEntries(failures),
        httpMs: {
          p50: +(http.percentile(50) / 1000).toFixed(2),
          p99: +(http.percentile(99) / 1000).toFixed(2),
          max: +(http.max / 1000).toFixed(2),
        },
      },
      drainMs,
      ...report,
      server: {
        ...serverEld,
        // CPU while the measured updates were sent and answered, and including the drain.
        cpuPercent: +((100 * cpuSending) / measuredSeconds).toFixed(1),
        cpuSeconds: +cpuTotal.toFixed(2),
        cpuMsPerUpdate: measured ? +((1000 * cpuTotal) / measured).toFixed(2) : null,
        rssMb: rss,
      },
    };
  } finally {
    if (clients.exitCode === null) clients.kill('SIGKILL');
    await exited;
  }
}
