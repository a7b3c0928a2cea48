import { describe, expect, it } from 'vitest';
import { databaseUrl, testDatabases } from '../../test/databases';
import { startFaultProxy } from '../../test/fault-proxy';
import { API_KEY, basicAuth, type Json, useApp, WRITE_KEY } from '../../test/harness';
import { createApp } from '../app';
import { testConfig } from '../config';
import { openPostgres } from '../db/client';

describe.each(testDatabases)('the health probes on $name', (db) => {
  const h = useApp(db);

  it('answers live, ready and health, naming the database and its state', async () => {
    const live = await h.app.request('/health/live');
    expect(live.status).toBe(200);
    expect(await live.json()).toEqual({ status: 'ok' });

    const ready = await h.app.request('/health/ready');
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({
      status: 'ok',
      database: db.name,
      databaseState: 'up',
      since: expect.any(String),
    });

    const health = await h.app.request('/health');
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({ status: 'ok', database: db.name, databaseState: 'up' });
  });
});

const postgresDb = testDatabases.find((d) => d.name === 'postgres');

/** Polls `path` until its status is `status`, for at most `ms`; answers the last response and its body. */
async function waitForStatus(
  app: { request(path: string): Response | Promise<Response> },
  path: string,
  status: number,
  ms: number,
) {
  const until = performance.now() + ms;
  for (;;) {
    const res = await app.request(path);
    if (res.status === status || performance.now() > until) return { res, body: (await res.json()) as Json };
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe.runIf(postgresDb)('readiness of PostgreSQL through a fault proxy', () => {
  it('is 503 naming the database state while the server refuses connections, and 200 once it answers', async () => {
    const direct = await (postgresDb as NonNullable<typeof postgresDb>).open();
    const url = databaseUrl(direct) as string;
    const proxy = await startFaultProxy({ host: new URL(url).hostname, port: Number(new URL(url).port || 5432) });
    const database = await openPostgres(proxy.via(url), { max: 2 });
    const app = createApp({ database, config: testConfig({ WRITE_KEYS: [WRITE_KEY], API_KEYS: [API_KEY] }) });
    try {
      expect((await waitForStatus(app, '/health/ready', 200, 5000)).res.status).toBe(200);

      await proxy.set('refuse');
      const down = await waitForStatus(app, '/health/ready', 503, 5000);
      expect(down.res.status).toBe(503);
      expect(down.res.headers.get('retry-after')).toMatch(/^\d+$/);
      expect(down.body).toMatchObject({
        status: 'unavailable',
        database: 'postgres',
        databaseState: 'down',
        reason: 'ECONNREFUSED',
        since: expect.any(String),
        error: { code: 'database_unavailable' },
      });
      // The process still answers: a liveness probe must not restart it for its database's sake.
      expect((await app.request('/health/live')).status).toBe(200);
      const health = await app.request('/health');
      expect(health.status).toBe(200);
      expect(await health.json()).toMatchObject({ status: 'degraded', databaseState: 'down' });
      // Known down: ingestion and the API answer 503, without trying the database.
      const ingest = await app.request('/v1/track', {
        method: 'POST',
        headers: { authorization: basicAuth(WRITE_KEY), 'content-type': 'application/json' },
        body: JSON.stringify({ anonymousId: 'a', event: 'While down' }),
      });
      const read = await app.request('/api/v1/cdp/events', { headers: { authorization: `Bearer ${API_KEY}` } });
      expect([ingest.status, read.status]).toEqual([503, 503]);
      expect(ingest.headers.get('retry-after')).toMatch(/^\d+$/);
      expect(((await ingest.json()) as Json).error.code).toBe('database_unavailable');

      await proxy.set('pass');
      const up = await waitForStatus(app, '/health/ready', 200, 10_000);
      expect(up.res.status).toBe(200);
      expect(up.body).toMatchObject({ status: 'ok', databaseState: 'up', latencyMs: expect.any(Number) });
    } finally {
      await app.writer.idle();
      await app.audit.flush();
      app.refresher.close();
      await proxy.close();
      await database.close();
      await direct.close();
    }
  });
});
