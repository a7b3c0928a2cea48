import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Analytics } from '@tributary/analytics/node';
import { sql } from 'drizzle-orm';
import postgres from 'postgres';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort, startCollectorProcess } from '../../test/collector-process';
import { postgresUrl, testDatabases } from '../../test/databases';
import { openPglite, queryRows } from '../db/client';

const WRITE_KEY = 'wk_durability_test_write_key';
const EVENTS = 3000;
const cleanups: (() => Promise<void> | void)[] = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
});

/** The Node SDK, patient enough to outlast a restart, recording what the collector acknowledged. */
function sender(host: string) {
  const analytics = new Analytics({
    writeKey: WRITE_KEY,
    host,
    flushAt: 50,
    flushInterval: 20,
    maxRetries: 10_000,
    retry: { minDelay: 20, maxDelay: 250 },
    timeout: 5_000,
    flushOnExit: false,
  });
  const acked = new Set<string>();
  const sendAll = (prefix: string) => {
    for (let i = 0; i < EVENTS; i++) {
      const messageId = `${prefix}-${i}`;
      analytics.track({ anonymousId: `visitor-${i % 100}`, event: 'Load', messageId }, (err) => {
        if (!err) acked.add(messageId);
      });
    }
  };
  return { analytics, acked, sendAll };
}

async function waitFor(check: () => boolean, timeoutMs = 30_000) {
  const until = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > until) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 10));
  }
}

interface Store {
  env: Record<string, string>;
  messageIds(prefix: string): Promise<string[]>;
}

async function postgresStore(): Promise<Store> {
  const name = `tributary_durability_${Math.random().toString(36).slice(2, 10)}`;
  const admin = postgres(postgresUrl, { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database ${name}`);
  const url = new URL(postgresUrl);
  url.pathname = `/${name}`;
  const client = postgres(url.toString(), { max: 1, onnotice: () => {} });
  cleanups.push(async () => {
    await client.end();
    await admin.unsafe(`drop database if exists ${name} with (force)`);
    await admin.end();
  });
  return {
    env: { DATABASE_URL: url.toString() },
    messageIds: async (prefix) =>
      (
        await client<
          { message_id: string }[]
        >`select message_id from customer_events where message_id like ${`${prefix}-%`}`
      ).map((r) => r.message_id),
  };
}

function pgliteStore(): Store {
  const dir = mkdtempSync(join(tmpdir(), 'tributary-durability-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return {
    env: { DATA_DIR: dir, DATABASE_URL: '' },
    // Read after the collector is gone: PGlite's directory has one user at a time.
    messageIds: async (prefix) => {
      const database = await openPglite(dir);
      try {
        const rows = await queryRows<{ message_id: string }>(
          database.db,
          sql`select message_id from customer_events where message_id like ${`${prefix}-%`}`,
        );
        return rows.map((r) => r.message_id);
      } finally {
        await database.close();
      }
    },
  };
}

describe.each(testDatabases)('durability on $name', (db) => {
  it('keeps every acknowledged event through SIGKILL, and the SDK delivers the rest once', async () => {
    const store = db.name === 'postgres' ? await postgresStore() : pgliteStore();
    const port = await freePort();
    const env = { ...store.env, PORT: String(port), WRITE_KEYS: WRITE_KEY, API_KEYS: 'sk_durability_admin_api_key' };
    const first = await startCollectorProcess(env);
    const { analytics, acked, sendAll } = sender(first.url);

    sendAll('kill');
    await waitFor(() => acked.size >= 300);
    first.child.kill('SIGKILL');
    await new Promise((r) => first.child.once('exit', r));
    const ackedBeforeKill = [...acked];

    if (db.name === 'pglite') {
      // PGlite allows one process at a time: check what survived before the collector comes back.
      const survived = new Set(await store.messageIds('kill'));
      expect(ackedBeforeKill.filter((id) => !survived.has(id))).toEqual([]);
    }
    const second = await startCollectorProcess(env);
    cleanups.push(() => second.stop());
    const result = await analytics.closeAndFlush({ timeout: 60_000 });
    expect(result).toEqual({ status: 'flushed', pending: 0 });
    expect(acked.size).toBe(EVENTS);
    await second.stop();

    const stored = await store.messageIds('kill');
    expect(new Set(stored).size).toBe(stored.length);
    expect(stored.length).toBe(EVENTS);
    const storedSet = new Set(stored);
    expect(ackedBeforeKill.filter((id) => !storedSet.has(id))).toEqual([]);
  }, 120_000);
});

describe.each(testDatabases)('the audit trail on $name', (db) => {
  it('keeps entries of requests answered just before a SIGKILL', async () => {
    const store = db.name === 'postgres' ? await postgresStore() : pgliteStore();
    const dataDir = mkdtempSync(join(tmpdir(), 'tributary-audit-'));
    cleanups.push(() => rmSync(dataDir, { recursive: true, force: true }));
    const env = { DATA_DIR: dataDir, ...store.env, WRITE_KEYS: WRITE_KEY, API_KEYS: 'sk_durability_admin_api_key' };
    if (db.name === 'pglite') env.DATA_DIR = store.env.DATA_DIR as string;
    const api = (url: string, path: string) =>
      fetch(`${url}${path}`, { headers: { authorization: 'Bearer sk_durability_admin_api_key' } });

    const first = await startCollectorProcess(env);
    const customer = crypto.randomUUID();
    for (let i = 0; i < 5; i++) expect((await api(first.url, `/api/v1/cdp/traits/${customer}`)).status).toBe(404);
    // Killed before the buffered entries can reach the database (they are flushed every 500 ms).
    first.child.kill('SIGKILL');
    await new Promise((r) => first.child.once('exit', r));

    const second = await startCollectorProcess(env);
    cleanups.push(() => second.stop());
    const res = await api(second.url, `/api/v1/admin/audit?customerId=${customer}`);
    const body = (await res.json()) as { entries: { endpoint: string; status: number }[] };
    expect(body.entries).toHaveLength(5);
    expect(body.entries.every((e) => e.status === 404 && e.endpoint.includes(customer))).toBe(true);
    await second.stop();
  }, 60_000);
});

// A PostgreSQL server of the test's own (its own data directory and port), so stopping it does
// not disturb the other tests that share the machine's server.
const PG_BIN = ['/usr/lib/postgresql/15/bin', '/usr/lib/postgresql/16/bin', '/usr/lib/postgresql/17/bin'].find((d) =>
  existsSync(join(d, 'pg_ctl')),
);
const hasPostgres = testDatabases.some((d) => d.name === 'postgres');
if (process.env.CI && !PG_BIN) throw new Error('The PostgreSQL restart test needs pg_ctl (Debian: postgresql)');

describe.runIf(PG_BIN && hasPostgres)('a PostgreSQL restart during load', () => {
  it('answers 503 while the server is down, recovers by itself, and loses nothing acknowledged', async () => {
    const bin = PG_BIN as string;
    const dir = mkdtempSync(join(tmpdir(), 'tributary-pg-'));
    const asPostgres = (cmd: string, args: string[]) =>
      execFileSync('runuser', ['-u', 'postgres', '--', join(bin, cmd), ...args], { stdio: 'pipe' });
    execFileSync('chown', ['postgres', dir]);
    const port = await freePort();
    const pgctl = (action: string) =>
      asPostgres('pg_ctl', [
        '-D',
        join(dir, 'data'),
        '-l',
        join(dir, 'log'),
        '-w',
        '-o',
        `-p ${port} -k ${dir}`,
        action,
      ]);
    asPostgres('initdb', ['-D', join(dir, 'data'), '-U', 'postgres', '--auth=trust', '-E', 'UTF8']);
    pgctl('start');
    cleanups.push(() => {
      try {
        pgctl('stop');
      } catch {}
      rmSync(dir, { recursive: true, force: true });
    });

    const collectorPort = await freePort();
    const collector = await startCollectorProcess({
      DATABASE_URL: `postgres://postgres@127.0.0.1:${port}/postgres`,
      PORT: String(collectorPort),
      WRITE_KEYS: WRITE_KEY,
      API_KEYS: 'sk_durability_admin_api_key',
    });
    cleanups.push(() => collector.stop());
    const { analytics, acked, sendAll } = sender(collector.url);

    sendAll('restart');
    await waitFor(() => acked.size >= 300);
    pgctl('stop');
    const ackedBeforeStop = [...acked];

    // A pooled keep-alive connection may be closed by the server just as it is reused: try again then.
    const probe = async (): Promise<Response> => {
      for (let attempt = 0; ; attempt++) {
        try {
          return await fetch(`${collector.url}/v1/track`, {
            method: 'POST',
            headers: { authorization: `Basic ${Buffer.from(`${WRITE_KEY}:`).toString('base64')}` },
            body: JSON.stringify({ anonymousId: 'probe', event: 'While down' }),
          });
        } catch (e) {
          if (collector.child.exitCode !== null) {
            throw new Error(`the collector exited (${collector.child.exitCode}):\n${collector.output()}`);
          }
          if (attempt >= 3) throw e;
        }
      }
    };
    const down = await probe();
    expect(down.status).toBe(503);
    expect(down.headers.get('retry-after')).toMatch(/^\d+$/);

    await new Promise((r) => setTimeout(r, 500));
    pgctl('start');
    const result = await analytics.closeAndFlush({ timeout: 60_000 });
    expect(result).toEqual({ status: 'flushed', pending: 0 });

    const client = postgres(`postgres://postgres@127.0.0.1:${port}/postgres`, { max: 1, onnotice: () => {} });
    try {
      const rows = await client<
        { id: string }[]
      >`select message_id as id from customer_events where message_id like 'restart-%'`;
      const stored = new Set(rows.map((r) => r.id));
      expect(rows.length).toBe(EVENTS);
      expect(stored.size).toBe(EVENTS);
      expect(ackedBeforeStop.filter((id) => !stored.has(id))).toEqual([]);
    } finally {
      await client.end();
    }
  }, 120_000);
});
