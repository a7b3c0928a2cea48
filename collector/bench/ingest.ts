/**
 * `pnpm bench:ingest`: the collector's ingestion rate beside raw PostgreSQL COPY of the same rows.
 *
 * The collector runs as its own process (as in production), on PostgreSQL and then on PGlite;
 * several connections send /v1/batch with 100 realistic events each. In the same run, the same rows
 * (as the collector would store them) are COPYed into the same table of a fresh database: the ratio
 * collector ÷ COPY is the figure that survives a noisy machine. The two are interleaved, slice by
 * slice, after the collector's warm-up; CPU per event comes beside the rates.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { SegmentCall } from '@tributary/spec';
import postgres from 'postgres';
import { openPostgres } from '../src/db/client';
import { EVENT_COLUMNS, toCopyLine } from '../src/ingest/event-row';
import { normalizeCall } from '../src/ingest/normalize-call';
import { generateKeyMaterial, parseKeyring } from '../src/privacy/encryption';
import { COLLECTOR_NODE_ARGS } from '../test/collector-process';
import { postgresCpuSeconds, processCpuSeconds } from './cpu-time';

const BASE_URL = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 8);
const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 800);
const SLICES = Number(process.env.BENCH_SLICES ?? 8);
const WARMUP = Number(process.env.BENCH_WARMUP ?? 1000);
const EVENTS_PER_BATCH = 100;
const WRITE_KEY = 'wk_bench_write_key_24chars';
const collectorDir = fileURLToPath(new URL('..', import.meta.url));
/** Extra Node flags for the collector process, e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof` to profile it. */
const EXTRA_NODE_ARGS = (process.env.BENCH_COLLECTOR_NODE_ARGS ?? '').split(' ').filter(Boolean);

const USER_AGENTS = [
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36',
  'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1',
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15',
  'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Mobile Safari/537.36',
];
const pick = <T>(xs: readonly T[]) => xs[Math.floor(Math.random() * xs.length)] as T;

/** One realistic browser event: nested properties and context, a real user agent, mostly anonymous. */
function makeEvent(i: number) {
  const anonymousId = `anon-${i % 5000}`;
  const path = pick(['/', '/pricing', '/quotes/auto', '/quotes/home', '/claims', '/account']);
  const base = {
    messageId: randomUUID(),
    anonymousId,
    ...(i % 10 === 0 ? { userId: `user-${i % 500}` } : {}),
    timestamp: new Date(Date.now() - 2000).toISOString(),
    context: {
      userAgent: pick(USER_AGENTS),
      locale: 'en-US',
      timezone: 'Europe/Berlin',
      sessionId: `s-${i % 2000}`,
      library: { name: '@tributary/analytics', version: '0.1.0' },
      page: {
        path,
        url: `https://insure.example${path}`,
        referrer: 'https://www.google.com/',
        title: 'Insure',
        search: '',
      },
      campaign: { source: 'newsletter', medium: 'email', name: 'autumn' },
      screen: { width: 1440, height: 900, density: 2 },
      // Consent is a person's standing choice: the same on every event of a visitor and of a user
      // (user-N's visitors are the anon-M with M % 500 = N).
      consent: { categoryPreferences: { analytics: true, marketing: (i % 500) % 3 === 0 } },
    },
  };
  if (i % 4 === 0)
    return { ...base, type: 'page', name: 'Quote', properties: { path, title: 'Quote', url: base.context.page.url } };
  return {
    ...base,
    type: 'track',
    event: pick(['Quote Requested', 'Button Clicked', 'Product Viewed', 'Order Completed']),
    properties: {
      quote: {
        product: pick(['auto', 'home', 'travel']),
        premium: Math.round(Math.random() * 100000) / 100,
        currency: 'EUR',
      },
      items: [{ sku: `sku-${i % 50}`, price: 19.99, quantity: 1 + (i % 3) }],
      button: { id: 'cta', text: 'Get a quote' },
    },
  };
}

function makeBatches(n: number) {
  let i = 0;
  return Array.from({ length: n }, () =>
    Buffer.from(
      JSON.stringify({
        batch: Array.from({ length: EVENTS_PER_BATCH }, () => makeEvent(i++)),
        sentAt: new Date().toISOString(),
      }),
    ),
  );
}

async function freshDatabase(): Promise<{ url: string; drop: () => Promise<void> }> {
  const name = `tributary_bench_${randomBytes(4).toString('hex')}`;
  const admin = postgres(BASE_URL, { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database ${name}`);
  const url = new URL(BASE_URL);
  url.pathname = `/${name}`;
  const database = await openPostgres(url.toString(), { max: 1 });
  await database.migrate();
  await database.close();
  return {
    url: url.toString(),
    drop: async () => {
      await admin.unsafe(`drop database if exists ${name} with (force)`);
      await admin.end();
    },
  };
}

function startCollector(env: Record<string, string>): Promise<{ url: string; child: ChildProcess }> {
  const child = spawn(process.execPath, [...EXTRA_NODE_ARGS, ...COLLECTOR_NODE_ARGS], {
    cwd: collectorDir,
    env: {
      ...process.env,
      PORT: '0',
      HOST: '127.0.0.1',
      WRITE_KEYS: WRITE_KEY,
      API_KEYS: 'sk_bench_api_key_24_chars',
      // Every request comes from 127.0.0.1, about 250 a second: one address sending as a whole site
      // does. The limit is still checked on each request, so its cost is measured.
      RATE_LIMIT_PER_IP_PER_SECOND: '100000',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      const m = out.match(/listening on (http:\/\/\S+)/);
      if (m?.[1]) resolve({ url: m[1].replace('localhost', '127.0.0.1'), child });
    });
    child.on('exit', (code) => reject(new Error(`collector exited with ${code}: ${out}`)));
  });
}

const stop = (child: ChildProcess) =>
  new Promise<void>((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });

/** POSTs `body` on one of the agent's kept-alive connections; resolves once a 200 answer is read. */
function post(agent: Agent, url: URL, headers: Record<string, string>, body: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      { method: 'POST', agent, headers: { ...headers, 'content-length': body.length } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          res.statusCode === 200
            ? resolve()
            : reject(new Error(`collector answered ${res.statusCode}: ${Buffer.concat(chunks).toString()}`)),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** What one stretch of load measured: totals, so that stretches add up. */
interface Measured {
  events: number;
  seconds: number;
  latencies: number[];
  /** CPU seconds of the collector, PostgreSQL and this load generator; null where /proc cannot be read. */
  cpu: { collector: number | null; postgres: number | null; load: number | null };
}

const cpuDelta = (before: number | null, after: number | null) =>
  before === null || after === null ? null : after - before;
const addCpu = (a: number | null, b: number | null) => (a === null || b === null ? null : a + b);

/**
 * Sends the batches over `CONNECTIONS` concurrent kept-alive connections and measures it. The load
 * generator is plain node:http with bodies encoded beforehand: it shares the machine's two cores
 * with the collector, so the less it costs, the more the figure is the collector's.
 */
async function load(url: string, bodies: Buffer[], collectorPid: number): Promise<Measured> {
  const target = new URL('/v1/batch', url);
  const agent = new Agent({ keepAlive: true, maxSockets: CONNECTIONS });
  const headers = {
    authorization: `Basic ${Buffer.from(`${WRITE_KEY}:`).toString('base64')}`,
    'content-type': 'application/json',
  };
  const latencies: number[] = [];
  let next = 0;
  const cpu0 = [processCpuSeconds(collectorPid), postgresCpuSeconds(), processCpuSeconds(process.pid)] as const;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: CONNECTIONS }, async () => {
      while (next < bodies.length) {
        const body = bodies[next++] as Buffer;
        const t0 = performance.now();
        await post(agent, target, headers, body);
        latencies.push(performance.now() - t0);
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  agent.destroy();
  return {
    events: bodies.length * EVENTS_PER_BATCH,
    seconds,
    latencies,
    cpu: {
      collector: cpuDelta(cpu0[0], processCpuSeconds(collectorPid)),
      postgres: cpuDelta(cpu0[1], postgresCpuSeconds()),
      load: cpuDelta(cpu0[2], processCpuSeconds(process.pid)),
    },
  };
}

/** The rows the collector would store for these batches, as COPY text: both sides load the very same text. */
function copyLines(bodies: Buffer[]): string[] {
  const receivedAt = new Date();
  const keyring = parseKeyring(`bench:${generateKeyMaterial()}`, generateKeyMaterial());
  const lines: string[] = [];
  for (const body of bodies) {
    for (const raw of (JSON.parse(body.toString()) as { batch: unknown[] }).batch) {
      const call = SegmentCall.parse(raw);
      lines.push(toCopyLine(normalizeCall(call, { receivedAt, ip: '127.0.0.1', userAgent: null, keyring }).row));
    }
  }
  return lines;
}

/** One COPY of `lines` into `customer_events` on one connection, as fast as PostgreSQL loads rows. */
async function rawCopy(sql: postgres.Sql, lines: string[]): Promise<Measured> {
  const cols = EVENT_COLUMNS.map(([c]) => c).join(', ');
  const cpu0 = postgresCpuSeconds();
  const started = performance.now();
  const stream = await sql.unsafe(`copy customer_events (${cols}) from stdin`).writable();
  await pipeline(Readable.from(lines), stream);
  return {
    events: lines.length,
    seconds: (performance.now() - started) / 1000,
    latencies: [],
    cpu: { collector: null, postgres: cpuDelta(cpu0, postgresCpuSeconds()), load: null },
  };
}

const total = (parts: Measured[]): Measured => ({
  events: parts.reduce((n, p) => n + p.events, 0),
  seconds: parts.reduce((n, p) => n + p.seconds, 0),
  latencies: parts.flatMap((p) => p.latencies),
  cpu: {
    collector: parts.map((p) => p.cpu.collector).reduce(addCpu),
    postgres: parts.map((p) => p.cpu.postgres).reduce(addCpu),
    load: parts.map((p) => p.cpu.load).reduce(addCpu),
  },
});
const rate = (m: Measured) => m.events / m.seconds;

/**
 * Each stretch starts its clock right after a checkpoint, so that none runs through a checkpoint the
 * other's writes brought on. (Needs a superuser, as the local server's `postgres`.)
 */
async function checkpoint() {
  const admin = postgres(BASE_URL, { max: 1, onnotice: () => {} });
  try {
    await admin.unsafe('checkpoint');
  } finally {
    await admin.end();
  }
}

/**
 * The collector on PostgreSQL beside raw COPY, interleaved: the batches are cut into `SLICES`, and each
 * slice is COPYed into one fresh database and then sent to the collector on another. This machine's
 * speed drifts from one minute to the next; interleaved, both sides meet the same drift.
 */
async function collectorBesideCopy(bodies: Buffer[]) {
  const copyDb = await freshDatabase();
  const pgDb = await freshDatabase();
  const sql = postgres(copyDb.url, { max: 1, onnotice: () => {} });
  const { url, child } = await startCollector({ DATABASE_URL: pgDb.url });
  try {
    const pid = child.pid ?? 0;
    await sql`select 1`; // connected before any clock starts
    await load(url, makeBatches(WARMUP), pid);
    const size = Math.ceil(bodies.length / SLICES);
    const copies: Measured[] = [];
    const collectors: Measured[] = [];
    for (let i = 0; i < bodies.length; i += size) {
      const slice = bodies.slice(i, i + size);
      const lines = copyLines(slice);
      await checkpoint();
      const copy = await rawCopy(sql, lines);
      await checkpoint();
      const collector = await load(url, slice, pid);
      console.log(
        `slice ${copies.length + 1}: raw COPY ${fmt(rate(copy))}/s, collector on PostgreSQL ${fmt(rate(collector))}/s, ratio ${(rate(collector) / rate(copy)).toFixed(2)}`,
      );
      copies.push(copy);
      collectors.push(collector);
    }
    return { copy: total(copies), collector: total(collectors) };
  } finally {
    await stop(child);
    await sql.end();
    await copyDb.drop();
    await pgDb.drop();
  }
}

async function collectorOnPglite(bodies: Buffer[]) {
  const dataDir = mkdtempSync(join(tmpdir(), 'tributary-bench-'));
  const { url, child } = await startCollector({ DATA_DIR: dataDir, DATABASE_URL: '' });
  try {
    const pid = child.pid ?? 0;
    await load(url, makeBatches(WARMUP), pid);
    const measured = await load(url, bodies, pid);
    // The embedded database's CPU is the collector's own; the PostgreSQL server sat idle.
    return { ...measured, cpu: { ...measured.cpu, postgres: null } };
  } finally {
    await stop(child);
    rmSync(dataDir, { recursive: true, force: true });
  }
}

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
/** CPU µs per event, or blank when it could not be read. */
const perEvent = (seconds: number | null, m: Measured) => (seconds === null ? '' : fmt((seconds * 1e6) / m.events));
const ms = (latencies: number[], p: number) => {
  const sorted = [...latencies].sort((a, b) => a - b);
  return (sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? 0).toFixed(1);
};

function printTable(table: string[][]) {
  const widths = table[0]?.map((_, i) => Math.max(...table.map((r) => (r[i] ?? '').length))) ?? [];
  for (const r of table)
    console.log(r.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join('  '));
}

async function main() {
  console.log(
    `bench:ingest — ${REQUESTS} requests × ${EVENTS_PER_BATCH} events over ${CONNECTIONS} connections, in ${SLICES} slices after ${WARMUP} requests of warm-up\n`,
  );
  const bodies = makeBatches(REQUESTS);
  const { copy, collector } = await collectorBesideCopy(bodies);
  const onPglite = await collectorOnPglite(bodies);
  const row = (name: string, m: Measured) => [
    name,
    fmt(rate(m)),
    ms(m.latencies, 0.5),
    ms(m.latencies, 0.99),
    perEvent(m.cpu.collector, m),
    perEvent(m.cpu.postgres, m),
    perEvent(m.cpu.load, m),
    (rate(m) / rate(copy)).toFixed(2),
  ];
  console.log('\nall slices together:');
  printTable([
    ['', 'events/s', 'p50 ms', 'p99 ms', 'CPU µs/event: collector', 'PostgreSQL', 'load generator', '÷ raw COPY'],
    ['raw COPY (PostgreSQL)', fmt(rate(copy)), '', '', '', perEvent(copy.cpu.postgres, copy), '', '1.00'],
    row('collector on PostgreSQL', collector),
    row('collector on PGlite', onPglite),
  ]);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
