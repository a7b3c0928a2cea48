import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'drizzle-orm';
import { afterAll, describe, expect, it } from 'vitest';
import { type CollectorProcess, startCollectorProcess } from '../../test/collector-process';
import { openPglite, queryRows } from '../db/client';

const WRITE_KEY = 'wk_deep_json_process_test_0001';
const API_KEY = 'sk_deep_json_process_test_0001';
const dataDir = mkdtempSync(join(tmpdir(), 'tributary-deep-json-'));
let server: CollectorProcess | undefined;

afterAll(async () => {
  // A process that hangs (as the unfixed collector did) is killed rather than waited for.
  if (server && server.child.exitCode === null) server.child.kill('SIGKILL');
  rmSync(dataDir, { recursive: true, force: true });
});

/** Each request gives up after 30 s: before the fix, the process stopped answering at all. */
const timeout = () => AbortSignal.timeout(30_000);
const auth = { authorization: `Basic ${Buffer.from(`${WRITE_KEY}:`).toString('base64')}` };
const track = (messageId: string) => ({ type: 'track', anonymousId: 'deep-json', event: 'Legit', messageId });

/**
 * Issue 12, finding 2: on PGlite one 20 KB request (a `properties` array nested about 7,000 levels
 * deep, among 100 legitimate events) was answered 200, none of its events was stored, a concurrent
 * batch was lost too, and the process aborted seconds later: PGlite's jsonb parser recursed once per
 * level on a WebAssembly stack that nothing guards. It needs the real process to show.
 */
describe('a deeply nested payload sent to the collector process on PGlite', { timeout: 120_000 }, () => {
  it('is refused on its own; the events beside it and a concurrent batch are stored; the process lives on', async () => {
    server = await startCollectorProcess({
      DATA_DIR: dataDir,
      DATABASE_URL: '',
      WRITE_KEYS: WRITE_KEY,
      API_KEYS: API_KEY,
      // The server pins its own header limit (16 KB): a larger one in NODE_OPTIONS does not raise it.
      NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --max-http-header-size=1048576`,
    });
    const depth = 7_000;
    const deep = `${'['.repeat(depth)}1${']'.repeat(depth)}`;
    const besideIds = Array.from({ length: 100 }, (_, i) => `deep-beside-${i}`);
    const concurrentIds = Array.from({ length: 50 }, (_, i) => `deep-concurrent-${i}`);
    const events = besideIds.map((id) => JSON.stringify(track(id)));
    events.splice(
      50,
      0,
      `{"type":"track","anonymousId":"deep-json","event":"Deep","messageId":"deep-poison","properties":{"a":${deep}}}`,
    );
    const deepBody = `{"batch":[${events.join(',')}]}`;
    expect(deepBody.length).toBeLessThan(30_000);

    const [deepAnswer, concurrent] = await Promise.all([
      fetch(`${server.url}/v1/batch`, { method: 'POST', headers: auth, body: deepBody, signal: timeout() }),
      fetch(`${server.url}/v1/batch`, {
        method: 'POST',
        headers: auth,
        body: JSON.stringify({ batch: concurrentIds.map(track) }),
        signal: timeout(),
      }),
    ]);
    expect(concurrent.status).toBe(200);
    expect(deepAnswer.status).toBe(200);
    const body = (await deepAnswer.json()) as { count: number; refused: { index: number; code: string }[] };
    expect(body.count).toBe(100);
    expect(body.refused).toEqual([
      expect.objectContaining({ index: 50, messageId: 'deep-poison', code: 'json_too_deep' }),
    ]);

    // Seconds later the process still answers, and still stores events.
    await new Promise((r) => setTimeout(r, 3_000));
    expect(server.child.exitCode).toBeNull();
    const later = await fetch(`${server.url}/v1/track`, {
      method: 'POST',
      headers: auth,
      body: JSON.stringify({ anonymousId: 'deep-json', event: 'Later', messageId: 'deep-later' }),
      signal: timeout(),
    });
    expect(later.status).toBe(200);
    const health = await fetch(`${server.url}/health`, { signal: timeout() });
    expect(health.status).toBe(200);
    const hugeHeader = await fetch(`${server.url}/v1/track`, {
      method: 'POST',
      headers: { ...auth, 'user-agent': 'Mozilla/5.0 '.repeat(2000) },
      body: '{}',
      signal: timeout(),
    });
    expect(hugeHeader.status).toBe(431);

    // What was acknowledged is on disk: read back by a fresh PGlite once the process stopped.
    await server.stop();
    expect(server.child.exitCode).toBe(0);
    server = undefined;
    const database = await openPglite(dataDir);
    try {
      const rows = await queryRows<{ message_id: string }>(
        database.db,
        sql`select message_id from customer_events where anonymous_id = 'deep-json'`,
      );
      const stored = new Set(rows.map((r) => r.message_id));
      expect([...besideIds, ...concurrentIds, 'deep-later'].filter((id) => !stored.has(id))).toEqual([]);
      expect(stored.has('deep-poison')).toBe(false);
    } finally {
      await database.close();
    }
  });
});
