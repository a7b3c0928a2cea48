import { mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { type CollectorProcess, startCollectorProcess } from '../test/collector-process';

const dataDir = mkdtempSync(join(tmpdir(), 'tributary-smoke-'));
const started: CollectorProcess[] = [];
// Two process starts on PGlite each: over 20 s when the rest of the suite runs beside them.
const PROCESS_TEST_TIMEOUT = 90_000;

/** The real process, as `pnpm start` runs it, on PGlite in this test's DATA_DIR. */
async function startServer(env: Record<string, string>) {
  const server = await startCollectorProcess({ DATA_DIR: dataDir, DATABASE_URL: '', ...env });
  started.push(server);
  return server;
}

afterAll(async () => {
  for (const s of started) await s.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('the collector process', { timeout: PROCESS_TEST_TIMEOUT }, () => {
  it('creates keys on first start, stores events in DATA_DIR and keeps them across restarts', async () => {
    const first = await startServer({});
    const writeKey = first.output().match(/write key[^:]*:\s+(\S+)/)?.[1];
    const apiKey = first.output().match(/API key[^:]*:\s+(\S+)/)?.[1];
    expect(writeKey).toMatch(/^wk_/);
    expect(apiKey).toMatch(/^sk_/);

    const sent = await fetch(`${first.url}/v1/track`, {
      method: 'POST',
      headers: { authorization: `Basic ${Buffer.from(`${writeKey}:`).toString('base64')}` },
      body: JSON.stringify({ anonymousId: 'smoke', event: 'Smoke Tested', messageId: 'smoke-1' }),
    });
    expect(sent.status).toBe(200);
    await first.stop();

    const second = await startServer({});
    expect(second.output()).not.toMatch(/write key/);
    const list = await fetch(`${second.url}/api/v1/cdp/events`, { headers: { authorization: `Bearer ${apiKey}` } });
    expect(list.status).toBe(200);
    const body = (await list.json()) as { events: { messageId: string }[] };
    expect(body.events.map((e) => e.messageId)).toContain('smoke-1');
    await second.stop();
  });

  it('refuses a request over 500 KB whether it declares its length or is chunked', async () => {
    const server = await startServer({
      DATA_DIR: mkdtempSync(join(dataDir, 'limit-')),
      WRITE_KEYS: 'wk_limit_test_write_key_0',
    });
    const body = (blob: number) =>
      JSON.stringify({ anonymousId: 'a', event: 'Big', properties: { blob: 'x'.repeat(blob) } });
    // One connection per request: a server that answers before reading a body may close the connection.
    const post = (text: string, how: 'declared' | 'chunked') =>
      new Promise<{ status: number; code?: string }>((resolve, reject) => {
        const req = request(`${server.url}/v1/track`, {
          method: 'POST',
          agent: false,
          headers: {
            authorization: `Basic ${Buffer.from('wk_limit_test_write_key_0:').toString('base64')}`,
            ...(how === 'declared' ? { 'content-length': Buffer.byteLength(text) } : {}),
          },
        });
        req.on('response', (res) => {
          let data = '';
          res.on('data', (d) => {
            data += d;
          });
          res.on('end', () => resolve({ status: res.statusCode ?? 0, code: JSON.parse(data).error?.code }));
        });
        req.on('error', reject);
        // Without a Content-Length, node:http sends the body chunked.
        for (let i = 0; i < text.length; i += 64 * 1024) req.write(text.slice(i, i + 64 * 1024));
        req.end();
      });

    for (const how of ['declared', 'chunked'] as const) {
      expect(await post(body(600 * 1024), how)).toEqual({ status: 413, code: 'request_too_large' });
      // Under the limit, the request is read whole: only its content tells that its event is over 32 KB.
      expect(await post(body(40 * 1024), how)).toEqual({ status: 413, code: 'event_too_large' });
      expect(await post(body(1024), how)).toEqual({ status: 200, code: undefined });
    }
  });

  it('finishes the segment work of what it acknowledged before it stops', async () => {
    const env = {
      DATA_DIR: mkdtempSync(join(dataDir, 'shutdown-')),
      WRITE_KEYS: 'wk_shutdown_test_write_key',
      API_KEYS: 'sk_shutdown_test_admin_key',
    };
    const api = { authorization: 'Bearer sk_shutdown_test_admin_key', 'content-type': 'application/json' };
    const first = await startServer(env);
    const created = await fetch(`${first.url}/api/v1/cdp/segments`, {
      method: 'POST',
      headers: api,
      body: JSON.stringify({
        name: 'Gold',
        segmentType: 'DYNAMIC',
        rules: { trait: { key: 'plan', operator: 'equals', value: 'gold' } },
      }),
    });
    expect(created.status).toBe(201);
    const segmentId = ((await created.json()) as { id: string }).id;
    // The segment's own first evaluation (100 ms after creation) runs before the customer exists.
    await new Promise((r) => setTimeout(r, 1000));
    const identified = await fetch(`${first.url}/v1/identify`, {
      method: 'POST',
      headers: { authorization: `Basic ${Buffer.from('wk_shutdown_test_write_key:').toString('base64')}` },
      body: JSON.stringify({ userId: 'u-shutdown', anonymousId: 'a-shutdown', traits: { plan: 'gold' } }),
    });
    expect(identified.status).toBe(200);
    // Stopped at once: the segment refresh this identify scheduled has not run yet.
    await first.stop();
    expect(first.output()).not.toMatch(/segment refresh failed/);

    const second = await startServer(env);
    const members = await fetch(`${second.url}/api/v1/cdp/segments/${segmentId}/members`, { headers: api });
    expect(((await members.json()) as { members: unknown[] }).members).toHaveLength(1);
    await second.stop();
  });

  it('refuses to start on a wrong setting and names it', async () => {
    await expect(startServer({ PORT: 'eighty' })).rejects.toThrow(/PORT/);
  });
});
