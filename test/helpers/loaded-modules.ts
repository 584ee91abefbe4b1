/**
 * Preloaded into an instance (startInstance's `preload`): on SIGUSR2 it writes one JSON log line
 * listing the OpenTelemetry files in require.cache, so a test can see what the service really loaded.
 */
process.on('SIGUSR2', () => {
  const modules = Object.keys(require.cache).filter((file) => file.includes('/node_modules/@opentelemetry/'));
  process.stdout.write(`${JSON.stringify({ msg: 'loaded modules', modules })}\n`);
});
