// `pnpm bench:sdk`: the builds' sizes, then the Node SDK against @segment/analytics-node sending the same
// events to the same local collector. Each SDK runs in its own child process (its CPU and peak memory
// are its own) against a fresh database. Not a test: figures for the README. Bounded to a few minutes.
import { execFileSync, spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { brotliCompressSync, gzipSync } from 'node:zlib';
import { testDatabases } from '../../../collector/test/databases';
import { startCollector } from '../../../collector/test/start-collector';

// The figure: 100,000 events per SDK (BENCH_EVENTS changes it).
const COUNT = Number(process.env.BENCH_EVENTS ?? 100_000);
const FLUSH_AT = Number(process.env.BENCH_FLUSH_AT ?? 100);
const CHILD_TIMEOUT_MS = 180_000;
const root = fileURLToPath(new URL('..', import.meta.url));
const dist = new URL('../dist/', import.meta.url);

function sizes() {
  const files = readdirSync(dist).filter((f) => /\.(c?js)$/.test(f));
  console.log('\nBundle sizes (bytes)');
  console.table(
    files.map((file) => {
      const raw = readFileSync(new URL(file, dist));
      return {
        file,
        raw: raw.length,
        gzip: gzipSync(raw, { level: 9 }).length,
        brotli: brotliCompressSync(raw).length,
      };
    }),
  );
}

interface ChildResult {
  sdk: string;
  ms: number;
  cpuMs: number;
  peakRssMb: number;
  result: unknown;
}

function runChild(sdk: string, host: string, writeKey: string): Promise<ChildResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ['bench/sdk-child.mjs', sdk, host, writeKey, String(COUNT), String(FLUSH_AT)],
      { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), CHILD_TIMEOUT_MS);
    child.on('exit', (code) => {
      clearTimeout(timer);
      if (code !== 0) return reject(new Error(`${sdk} exited with ${code}`));
      resolve(JSON.parse(out.trim().split('\n').at(-1) ?? '{}') as ChildResult);
    });
  });
}

async function main() {
  execFileSync('pnpm', ['build'], { cwd: root, stdio: 'ignore' });
  sizes();

  const db = testDatabases.find((d) => d.name === 'postgres') ?? testDatabases[0];
  if (!db) throw new Error('no database to run on');
  console.log(
    `\n${COUNT.toLocaleString()} track calls per SDK, flushAt ${FLUSH_AT}, collector in-process on ${db.name}`,
  );
  const rows: Record<string, string | number>[] = [];
  const results: Record<string, ChildResult> = {};
  for (const sdk of ['tributary', 'segment']) {
    const database = await db.open();
    const collector = await startCollector({ database });
    try {
      const r = await runChild(sdk, collector.url, collector.writeKey);
      const [stored] = await collector.query<{ n: string | number }>(
        `select count(*) as n from customer_events where event_name = 'Bench ${sdk}'`,
      );
      results[sdk] = r;
      rows.push({
        sdk: sdk === 'tributary' ? '@tributary/analytics/node' : '@segment/analytics-node',
        delivered: Number(stored?.n),
        'time (s)': +(r.ms / 1000).toFixed(2),
        'events/s': Math.round(COUNT / (r.ms / 1000)),
        'CPU (s)': +(r.cpuMs / 1000).toFixed(2),
        'peak RSS (MB)': +r.peakRssMb.toFixed(1),
      });
    } finally {
      await collector.close();
    }
  }
  console.table(rows);
  const t = results.tributary;
  const s = results.segment;
  if (t && s) {
    console.log(
      `Tributary vs Segment: ${(s.ms / t.ms).toFixed(2)}x as fast, ${(s.cpuMs / t.cpuMs).toFixed(2)}x less CPU, ` +
        `${(s.peakRssMb / t.peakRssMb).toFixed(2)}x less peak memory`,
    );
  }
}

await main();
process.exit(0);
