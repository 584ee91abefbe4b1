// Preloaded into the benchmarked servers (`node -r ./bench/probe.cjs`): reports the event loop
// delay histogram and memory over the IPC channel the benchmark opens. Benchmark-only code.
const { monitorEventLoopDelay } = require('node:perf_hooks');

const histogram = monitorEventLoopDelay({ resolution: 10 });
histogram.enable();

if (process.send) {
  process.on('message', (msg) => {
    if (msg === 'eld:reset') {
      histogram.reset();
      process.send({ type: 'eld:reset' });
    } else if (msg === 'eld:read') {
      process.send({ type: 'eld', p99Ms: histogram.percentile(99) / 1e6, maxMs: histogram.max / 1e6 });
    }
  });
  // The IPC channel must not keep a server alive on its own.
  process.channel?.unref();
}
