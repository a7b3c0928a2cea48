// One SDK sending N events to the collector, alone in its process so its CPU and memory are its own.
// Usage: node bench/sdk-child.mjs <tributary|segment> <host> <writeKey> <count> <flushAt>
const [sdk, host, writeKey, countArg, flushAtArg] = process.argv.slice(2);
const count = Number(countArg);
const flushAt = Number(flushAtArg);

let peakRss = process.memoryUsage().rss;
const sampler = setInterval(() => {
  peakRss = Math.max(peakRss, process.memoryUsage().rss);
}, 20);

const event = (i) => ({
  userId: `bench-user-${i % 1000}`,
  event: `Bench ${sdk}`,
  properties: { i, plan: 'pro', value: i * 1.5, tags: ['a', 'b'] },
});

const startCpu = process.cpuUsage();
const start = performance.now();
let result;
if (sdk === 'tributary') {
  const { Analytics } = await import('@tributary/analytics/node');
  const analytics = new Analytics({
    writeKey,
    host,
    flushAt,
    flushInterval: 1000,
    maxQueueSize: count,
    flushOnExit: false,
  });
  for (let i = 0; i < count; i++) analytics.track(event(i));
  result = await analytics.closeAndFlush({ timeout: 170_000 });
} else {
  const { Analytics } = await import('@segment/analytics-node');
  const analytics = new Analytics({ writeKey, host, flushAt, flushInterval: 1000 });
  let errors = 0;
  analytics.on('error', () => errors++);
  for (let i = 0; i < count; i++) analytics.track(event(i));
  await analytics.closeAndFlush({ timeout: 170_000 });
  result = { errors };
}
const ms = performance.now() - start;
const cpu = process.cpuUsage(startCpu);
clearInterval(sampler);
peakRss = Math.max(peakRss, process.memoryUsage().rss, process.resourceUsage().maxRSS * 1024);
process.stdout.write(
  `${JSON.stringify({ sdk, ms, cpuMs: (cpu.user + cpu.system) / 1000, peakRssMb: peakRss / 2 ** 20, result })}\n`,
);
process.exit(0);
