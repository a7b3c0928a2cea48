import { randomUUID } from 'node:crypto';
import { createServer, type Server, type Socket, connect as tcpConnect } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../test/collector-process';
import { testDatabases } from '../../test/databases';
import { API_KEY, basicAuth, WRITE_KEY } from '../../test/harness';
import { hasRedis, redisUrl } from '../../test/redis';
import { type App, createApp } from '../app';
import { type Config, testConfig } from '../config';
import type { Database } from '../db/client';

const REDIS_URL = redisUrl;

/**
 * A TCP proxy to Redis that can stop passing bytes either way while its connections stay open: a
 * network that black-holes packets, the outage no error reports.
 */
async function blackHoleProxy(target: URL) {
  let holding = false;
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = tcpConnect(Number(target.port || 6379), target.hostname);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('error', () => {});
      s.on('close', () => {
        client.destroy();
        upstream.destroy();
      });
    }
    client.on('data', (d) => holding || upstream.write(d));
    upstream.on('data', (d) => holding || client.write(d));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `redis://127.0.0.1:${port}`,
    hold() {
      holding = true;
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

async function waitFor(check: () => boolean, timeoutMs = 10_000) {
  const until = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > until) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe.runIf(hasRedis).each(testDatabases)('rate limits shared through Redis on $name', (db) => {
  let database: Database;
  const apps: App[] = [];
  beforeAll(async () => {
    database = await db.open();
  });
  afterEach(async () => {
    for (const app of apps.splice(0)) {
      await app.writer.idle();
      await app.refresher.idle();
      app.refresher.close();
      await app.rateLimits.close();
    }
  });
  afterAll(async () => {
    await database?.close();
  });

  /** A collector app, as one process of several would build it from the same environment. */
  const collector = (config: Partial<Config>) => {
    const app = createApp({
      database,
      config: testConfig({ WRITE_KEYS: [WRITE_KEY], API_KEYS: [API_KEY], TRUST_PROXY: 1, ...config }),
    });
    apps.push(app);
    return app;
  };
  const track = (app: App, ip: string) =>
    app.request('/v1/track', {
      method: 'POST',
      headers: { authorization: basicAuth(WRITE_KEY), 'x-forwarded-for': ip },
      body: JSON.stringify({ anonymousId: 'a', event: 'e' }),
    });
  const statuses = async (responses: (Response | Promise<Response>)[]) =>
    (await Promise.all(responses)).map((r) => r.status);
  const ok = (s: number[]) => s.filter((x) => x === 200).length;

  it("two collectors on one Redis share each key's and each address's budget", async () => {
    const shared = { REDIS_URL, REDIS_KEY_PREFIX: `test:${randomUUID()}:`, RATE_LIMIT_PER_SECOND: 4 };
    const a = collector(shared);
    const b = collector(shared);
    await waitFor(() => a.rateLimits.shared && b.rateLimits.shared);

    // Sent at once, so they fall in the same second; each collector alone would accept 4.
    const perKey = await statuses(Array.from({ length: 8 }, (_, i) => track(i % 2 ? a : b, `203.0.113.${i}`)));
    expect(ok(perKey)).toBe(4);
    expect(perKey.filter((s) => s === 429)).toHaveLength(4);

    const perIpShared = { REDIS_URL, REDIS_KEY_PREFIX: `test:${randomUUID()}:`, RATE_LIMIT_PER_IP_PER_SECOND: 2 };
    const c = collector(perIpShared);
    const d = collector(perIpShared);
    await waitFor(() => c.rateLimits.shared && d.rateLimits.shared);
    const perIp = await statuses(Array.from({ length: 4 }, (_, i) => track(i % 2 ? c : d, '2001:db8:1:2::7')));
    expect(ok(perIp)).toBe(2);
  });

  it('keeps answering, with limits per process, when Redis cannot be reached', async () => {
    const app = collector({ REDIS_URL: `redis://127.0.0.1:${await freePort()}`, RATE_LIMIT_PER_IP_PER_SECOND: 3 });
    const started = Date.now();
    const answers = await statuses(Array.from({ length: 5 }, () => track(app, '198.51.100.1')));
    // A bound on hanging, not a speed: without bounded timeouts these wait for a reconnection that never comes.
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(answers.sort()).toEqual([200, 200, 200, 429, 429]);
    expect(app.rateLimits.shared).toBe(false);
  });

  it('keeps answering, within a bounded time, when Redis stops answering mid-connection', async () => {
    const proxy = await blackHoleProxy(new URL(REDIS_URL));
    try {
      const app = collector({
        REDIS_URL: proxy.url,
        REDIS_KEY_PREFIX: `test:${randomUUID()}:`,
        RATE_LIMIT_PER_IP_PER_SECOND: 3,
      });
      await waitFor(() => app.rateLimits.shared);
      expect(await statuses([track(app, '198.51.100.2')])).toEqual([200]);

      proxy.hold();
      const started = Date.now();
      const answers = await statuses(Array.from({ length: 5 }, () => track(app, '198.51.100.3')));
      expect(Date.now() - started).toBeLessThan(5_000);
      expect(answers.sort()).toEqual([200, 200, 200, 429, 429]);
      // The silent connection is given up: the insurance limiter answers without waiting on it.
      await waitFor(() => !app.rateLimits.shared);
      const later = Date.now();
      expect(await statuses([track(app, '198.51.100.4')])).toEqual([200]);
      expect(Date.now() - later).toBeLessThan(5_000);
    } finally {
      await proxy.close();
    }
  });
});
