import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { sql } from 'drizzle-orm';
import { afterEach, describe, expect, it } from 'vitest';
import { testDatabases } from '../../test/databases';
import { openPostgres } from './client';

/**
 * postgres.js 3.4.9 crashes the process when a connection is lost at the wrong moment
 * (patches/postgres@3.4.9.patch). This reproduces the deterministic case: the server goes away while
 * a new connection fetches its array types, which left an unhandled rejection.
 */
const hasPostgres = testDatabases.some((d) => d.name === 'postgres');
const target = new URL(process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test');

/** A TCP proxy to the server that resets the first connection once the driver asks for pg_type. */
function proxyResettingTypesQuery(): Promise<{ server: Server; port: number; resets: () => number }> {
  let resets = 0;
  const server = createServer((client: Socket) => {
    const upstream = createConnection({ host: target.hostname, port: Number(target.port || 5432) });
    client.on('data', (chunk) => {
      if (resets === 0 && chunk.includes('pg_catalog.pg_type')) {
        resets++;
        upstream.destroy();
        client.resetAndDestroy();
        return;
      }
      upstream.write(chunk);
    });
    upstream.on('data', (chunk) => client.writable && client.write(chunk));
    upstream.on('error', () => client.destroy());
    client.on('error', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      resolve({ server, port: typeof address === 'object' && address ? address.port : 0, resets: () => resets });
    }),
  );
}

const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown) => unhandled.push(reason);
afterEach(() => {
  process.off('unhandledRejection', onUnhandled);
});

describe.runIf(hasPostgres)('the PostgreSQL driver', () => {
  it('survives a connection reset while it fetches array types, and the next query succeeds', async () => {
    process.on('unhandledRejection', onUnhandled);
    const proxy = await proxyResettingTypesQuery();
    const url = new URL(target);
    url.port = String(proxy.port);
    const database = await openPostgres(url.toString(), { max: 1 });
    try {
      // The first query may fail with the lost connection or succeed after the reconnect; either is fine.
      await database.db.execute(sql`select 1 as one`).catch(() => undefined);
      const rows = await database.db.execute(sql`select 2 as two`);
      expect(Array.from(rows as Iterable<{ two: number }>)[0]?.two).toBe(2);
      // Unhandled rejections surface after the microtask queue drains.
      await new Promise((r) => setTimeout(r, 50));
      expect(proxy.resets()).toBe(1);
      expect(unhandled).toEqual([]);
    } finally {
      await database.close();
      proxy.server.close();
    }
  });
});
