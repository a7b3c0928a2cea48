/**
 * `pnpm bench:isolation`: whether one request full of identity work stalls everyone else's.
 *
 * On each database (PGlite, then PostgreSQL) a collector process runs on a populated database
 * (`BENCH_CUSTOMERS` customers, each with a userId, an anonymous ID, an email and a few traits). One
 * connection sends small legitimate requests one after another: a page view and a track of a signed-in
 * customer on a new device, which links that device to them. Their latency is measured idle, then while
 * another connection sends 2,500-identify batches (distinct new users, an email and a few traits each,
 * about 300 KB) back to back. The figure is the ratio of the small requests' p99 under that load to
 * their p99 idle (target: under 3×).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import postgres from 'postgres';
import { type Database, openPglite, openPostgres } from '../src/db/client';
import { customerIdentities, customers, customerTraits } from '../src/db/schema';
import { generateKeyMaterial, type Keyring, parseKeyring } from '../src/privacy/encryption';
import { storedIdentity } from '../src/privacy/identity-lookup';
import { startCollectorProcess } from '../test/collector-process';

const BASE_URL = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const CUSTOMERS = Number(process.env.BENCH_CUSTOMERS ?? 30_000);
const IDLE_REQUESTS = Number(process.env.BENCH_IDLE_REQUESTS ?? 300);
/** How many 2,500-identify batches are sent, one after another, while the small requests are measured. */
const BIG_BATCHES = Number(process.env.BENCH_BIG_BATCHES ?? 3);
const IDENTIFIES = 2_500;
/** `postgresql` or `pglite` to measure on one database only. */
const ONLY = process.env.BENCH_DATABASE?.toLowerCase();
/** Pause between two small requests: a steady trickle, not a second flood. */
const PAUSE_MS = 10;
const WRITE_KEY = 'wk_bench_write_key_24chars';
const HEADERS = {
  authorization: `Basic ${Buffer.from(`${WRITE_KEY}:`).toString('base64')}`,
  'content-type': 'application/json',
};

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Customers as identify calls would have left them, written straight into the database. */
async function seed(database: Database, keyring: Keyring) {
  const CHUNK = 1_000;
  for (let from = 0; from < CUSTOMERS; from += CHUNK) {
    const ids = Array.from({ length: Math.min(CHUNK, CUSTOMERS - from) }, () => randomUUID());
    await database.db.insert(customers).values(ids.map((id) => ({ id, lastSeenAt: new Date() })));
    await database.db.insert(customerIdentities).values(
      ids.flatMap((customerId, i) => [
        { customerId, ...storedIdentity(keyring, 'EXTERNAL_ID', `user-${from + i}`), provider: 'segment:identify' },
        { customerId, ...storedIdentity(keyring, 'COOKIE_ID', `anon-${from + i}`), provider: 'segment:identify' },
        {
          customerId,
          ...storedIdentity(keyring, 'EMAIL', `user-${from + i}@example.com`),
          provider: 'segment:identify',
        },
      ]),
    );
    await database.db.insert(customerTraits).values(
      ids.flatMap((customerId) =>
        ['plan', 'company', 'city'].map((traitKey) => ({
          customerId,
          traitKey,
          traitValue: `${traitKey}-${from % 7}`,
          traitType: 'DEMOGRAPHIC' as const,
          source: 'identify',
        })),
      ),
    );
  }
}

/** A small legitimate request: a page view, then a signed-in customer's track from a new device. */
function smallBody() {
  const user = `user-${Math.floor(Math.random() * CUSTOMERS)}`;
  const anonymousId = randomUUID();
  return Buffer.from(
    JSON.stringify({
      batch: [
        { type: 'page', messageId: randomUUID(), anonymousId, name: 'Pricing', properties: { path: '/pricing' } },
        { type: 'track', messageId: randomUUID(), anonymousId, userId: user, event: 'Quote Requested' },
      ],
    }),
  );
}

/** 2,500 identifies of distinct new users, each with an email and a few traits. */
function bigBody(run: string) {
  return Buffer.from(
    JSON.stringify({
      batch: Array.from({ length: IDENTIFIES }, (_, i) => ({
        type: 'identify',
        userId: `${run}-${i}`,
        anonymousId: `a-${run}-${i}`,
        traits: { email: `${run}-${i}@example.com`, plan: 'pro', name: `P ${i}` },
      })),
    }),
  );
}

/** An answer: how long it took (ms) and its status. */
interface Answer {
  ms: number;
  status: number;
}

/** POSTs `body`, resolving to its answer once read whole. */
function post(agent: Agent, url: URL, body: Buffer): Promise<Answer> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      { method: 'POST', agent, headers: { ...HEADERS, 'content-length': body.length } },
      (res) => {
        res.resume();
        res.on('end', () => resolve({ ms: performance.now() - started, status: res.statusCode ?? 0 }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

const quantile = (xs: number[], q: number) => {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * q))] ?? 0;
};

interface Figures {
  idle: Answer[];
  loaded: Answer[];
  /** Each 2,500-identify batch's answer. */
  big: Answer[];
}

/** Small requests idle, then while big batches are sent back to back, against a running collector. */
async function measure(url: string): Promise<Figures> {
  const agent = new Agent({ keepAlive: true, maxSockets: 4 });
  const small = new URL('/v1/batch', url);
  const trickle = async (until: () => boolean) => {
    const answers: Answer[] = [];
    while (!until()) {
      answers.push(await post(agent, small, smallBody()));
      await sleep(PAUSE_MS);
    }
    return answers;
  };
  for (let i = 0; i < 50; i++) await post(agent, small, smallBody()); // warm-up
  let sent = 0;
  const idle = await trickle(() => sent++ >= IDLE_REQUESTS);
  const run = randomBytes(3).toString('hex');
  const bodies = Array.from({ length: BIG_BATCHES }, (_, i) => bigBody(`${run}${i}`));
  let done = false;
  const flood = (async () => {
    const answers: Answer[] = [];
    for (const body of bodies) answers.push(await post(agent, small, body));
    return answers;
  })();
  // The trickle runs while the flood lasts; a failed flood ends it too.
  const [loaded, big] = await Promise.all([
    trickle(() => done),
    flood.finally(() => {
      done = true;
    }),
  ]);
  const figures = { idle, loaded, big };
  agent.destroy();
  return figures;
}

/** Starts a collector process with this environment and measures it; its output is shown if that fails. */
async function measureProcess(env: Record<string, string>): Promise<Figures> {
  const collector = await startCollectorProcess(env);
  try {
    return await measure(collector.url);
  } catch (e) {
    console.error(collector.output().slice(-3000));
    throw e;
  } finally {
    await collector.stop();
  }
}

async function onPostgres(keys: Record<string, string>, keyring: Keyring): Promise<Figures> {
  const name = `tributary_bench_${randomBytes(4).toString('hex')}`;
  const admin = postgres(BASE_URL, { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database ${name}`);
  const url = new URL(BASE_URL);
  url.pathname = `/${name}`;
  try {
    const database = await openPostgres(url.toString(), { max: 2 });
    await database.migrate();
    await seed(database, keyring);
    await database.close();
    return await measureProcess({ ...keys, DATABASE_URL: url.toString() });
  } finally {
    await admin.unsafe(`drop database if exists ${name} with (force)`);
    await admin.end();
  }
}

async function onPglite(keys: Record<string, string>, keyring: Keyring): Promise<Figures> {
  const dataDir = mkdtempSync(join(tmpdir(), 'tributary-bench-'));
  try {
    const database = await openPglite(dataDir);
    await database.migrate();
    await seed(database, keyring);
    await database.close();
    return await measureProcess({ ...keys, DATA_DIR: dataDir, DATABASE_URL: '' });
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}

const fmt = (ms: number) => ms.toFixed(1);

async function main() {
  console.log(
    `bench:isolation — small requests (a page and a signed-in track) one at a time, idle and while ${BIG_BATCHES} batches of ${IDENTIFIES.toLocaleString('en-US')} identifies are sent back to back; ${CUSTOMERS.toLocaleString('en-US')} customers seeded\n`,
  );
  const encryptionKey = `bench:${generateKeyMaterial()}`;
  const blindIndexKey = generateKeyMaterial();
  const keys = {
    ENCRYPTION_KEY: encryptionKey,
    BLIND_INDEX_KEY: blindIndexKey,
    WRITE_KEYS: WRITE_KEY,
    API_KEYS: 'sk_bench_api_key_24_chars',
    RATE_LIMIT_PER_IP_PER_SECOND: '100000',
  };
  const keyring = parseKeyring(encryptionKey, blindIndexKey);
  const rows = [
    [
      '',
      'idle p50 ms',
      'idle p99 ms',
      'loaded p50 ms',
      'loaded p99 ms',
      'p99 ratio',
      'small requests',
      'not 200',
      '2,500-identify batches: s (status)',
    ],
  ];
  // PGlite first: after the PostgreSQL run the server still writes out the dropped database's pages,
  // which would take CPU from the PGlite run on a two-core machine.
  const databases = [
    ['PGlite', onPglite],
    ['PostgreSQL', onPostgres],
  ] as const;
  for (const [name, run] of databases.filter(([name]) => ONLY === undefined || name.toLowerCase() === ONLY)) {
    const f = await run(keys, keyring);
    const [idle, loaded] = [f.idle.map((a) => a.ms), f.loaded.map((a) => a.ms)];
    const ratio = quantile(loaded, 0.99) / quantile(idle, 0.99);
    const big = f.big.map((a) => `${(a.ms / 1000).toFixed(1)} (${a.status})`).join(', ');
    console.log(`${name}: p99 ratio ${ratio.toFixed(2)}× (target < 3×)`);
    rows.push([
      name,
      fmt(quantile(idle, 0.5)),
      fmt(quantile(idle, 0.99)),
      fmt(quantile(loaded, 0.5)),
      fmt(quantile(loaded, 0.99)),
      `${ratio.toFixed(2)}×`,
      `${idle.length} + ${loaded.length}`,
      String([...f.idle, ...f.loaded].filter((a) => a.status !== 200).length),
      big,
    ]);
  }
  console.log();
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? [];
  for (const r of rows)
    console.log(r.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join('  '));
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
