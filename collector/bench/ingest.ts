/**
 * `pnpm bench:ingest`: the collector's ingestion rate beside raw PostgreSQL COPY of the same rows.
 *
 * The collector runs as its own process (as in production), on PostgreSQL and then on PGlite;
 * several connections send /v1/batch with 100 realistic events each. In the same run, the same rows
 * (as the collector would store them) are COPYed into the same table of a fresh database: the
 * ratio collector ÷ COPY is the figure that survives a noisy machine.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { SegmentCall } from '@tributary/spec';
import postgres from 'postgres';
import { openPostgres } from '../src/db/client';
import { EVENT_COLUMNS, type EventRow, toCopyLine } from '../src/ingest/event-row';
import { normalizeCall } from '../src/ingest/normalize-call';
import { generateKeyMaterial, parseKeyring } from '../src/privacy/encryption';

const BASE_URL = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 8);
const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 400);
const WARMUP = 20;
const EVENTS_PER_BATCH = 100;
const WRITE_KEY = 'wk_bench_write_key';
const collectorDir = fileURLToPath(new URL('..', import.meta.url));
/** Extra Node flags for the collector process, e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof` to profile it. */
const COLLECTOR_NODE_ARGS = (process.env.BENCH_COLLECTOR_NODE_ARGS ?? '').split(' ').filter(Boolean);

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
    JSON.stringify({
      batch: Array.from({ length: EVENTS_PER_BATCH }, () => makeEvent(i++)),
      sentAt: new Date().toISOString(),
    }),
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
  const child = spawn(process.execPath, [...COLLECTOR_NODE_ARGS, '--import', 'tsx', 'src/server.ts'], {
    cwd: collectorDir,
    env: { ...process.env, PORT: '0', HOST: '127.0.0.1', WRITE_KEYS: WRITE_KEY, API_KEYS: 'sk_bench_api_key', ...env },
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

const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? 0;

/** Sends the batches over `CONNECTIONS` concurrent connections; returns events/s and latencies. */
async function load(url: string, bodies: string[]) {
  const auth = `Basic ${Buffer.from(`${WRITE_KEY}:`).toString('base64')}`;
  const latencies: number[] = [];
  let next = 0;
  const send = async (body: string) => {
    const t0 = performance.now();
    const res = await fetch(`${url}/v1/batch`, {
      method: 'POST',
      headers: { authorization: auth, 'content-type': 'application/json' },
      body,
    });
    if (res.status !== 200) throw new Error(`collector answered ${res.status}: ${await res.text()}`);
    await res.arrayBuffer();
    return performance.now() - t0;
  };
  const started = performance.now();
  await Promise.all(
    Array.from({ length: CONNECTIONS }, async () => {
      while (next < bodies.length) {
        const body = bodies[next++] as string;
        latencies.push(await send(body));
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  return {
    eventsPerSecond: (bodies.length * EVENTS_PER_BATCH) / seconds,
    p50: percentile(latencies, 0.5),
    p99: percentile(latencies, 0.99),
  };
}

async function benchCollector(env: Record<string, string>, bodies: string[]) {
  const { url, child } = await startCollector(env);
  try {
    await load(url, makeBatches(WARMUP));
    return await load(url, bodies);
  } finally {
    await stop(child);
  }
}

/** COPY of exactly the rows the collector would store for these batches, into the same table. */
async function benchCopy(url: string, bodies: string[]) {
  const receivedAt = new Date();
  const keyring = parseKeyring(`bench:${generateKeyMaterial()}`, generateKeyMaterial());
  const rows: EventRow[] = [];
  for (const body of bodies) {
    for (const raw of (JSON.parse(body) as { batch: unknown[] }).batch) {
      const call = SegmentCall.parse(raw);
      rows.push(normalizeCall(call, { receivedAt, ip: '127.0.0.1', userAgent: null, keyring }).row);
    }
  }
  // Encoded as the collector encodes them, so both sides load the very same text.
  const lines = rows.map(toCopyLine);
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  try {
    const cols = EVENT_COLUMNS.map(([c]) => c).join(', ');
    const started = performance.now();
    const stream = await sql.unsafe(`copy customer_events (${cols}) from stdin`).writable();
    await pipeline(Readable.from(lines), stream);
    return { rowsPerSecond: rows.length / ((performance.now() - started) / 1000) };
  } finally {
    await sql.end();
  }
}

async function main() {
  console.log(`bench:ingest — ${REQUESTS} requests × ${EVENTS_PER_BATCH} events over ${CONNECTIONS} connections\n`);
  const bodies = makeBatches(REQUESTS);

  const copyDb = await freshDatabase();
  const copy = await benchCopy(copyDb.url, bodies).finally(copyDb.drop);

  const pgDb = await freshDatabase();
  const onPostgres = await benchCollector({ DATABASE_URL: pgDb.url }, bodies).finally(pgDb.drop);

  const dataDir = mkdtempSync(join(tmpdir(), 'tributary-bench-'));
  const onPglite = await benchCollector({ DATA_DIR: dataDir, DATABASE_URL: '' }, bodies).finally(() =>
    rmSync(dataDir, { recursive: true, force: true }),
  );

  const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
  const table = [
    ['', 'events/s', 'p50 ms', 'p99 ms', '÷ raw COPY'],
    ['raw COPY (PostgreSQL)', fmt(copy.rowsPerSecond), '', '', '1.00'],
    [
      'collector on PostgreSQL',
      fmt(onPostgres.eventsPerSecond),
      onPostgres.p50.toFixed(1),
      onPostgres.p99.toFixed(1),
      (onPostgres.eventsPerSecond / copy.rowsPerSecond).toFixed(2),
    ],
    [
      'collector on PGlite',
      fmt(onPglite.eventsPerSecond),
      onPglite.p50.toFixed(1),
      onPglite.p99.toFixed(1),
      (onPglite.eventsPerSecond / copy.rowsPerSecond).toFixed(2),
    ],
  ];
  const widths = table[0]?.map((_, i) => Math.max(...table.map((r) => (r[i] ?? '').length))) ?? [];
  for (const r of table)
    console.log(r.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join('  '));
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
