import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { sql } from 'drizzle-orm';
import { afterEach, describe, expect, it } from 'vitest';
import { testDatabases } from '../../test/databases';
import { copyRows, openPostgres } from './client';

/**
 * postgres.js 3.4.9, as patched (patches/postgres@3.4.9.patch): a connection lost while it fetches
 * its array types left an unhandled rejection that crashed the process, and a COPY the server
 * refused after all its data was sent never settled.
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

  it('fails a COPY the server refuses at once, and the transaction with it', async () => {
    const postgres = testDatabases.find((d) => d.name === 'postgres');
    const database = await (postgres as (typeof testDatabases)[number]).open();
    try {
      const started = performance.now();
      const copy = database.db.transaction(async (tx) => {
        await tx.execute(sql`create temp table copied (id text primary key) on commit drop`);
        await copyRows(tx, 'copied', ['id'], ['a\nb\n', 'a\n']);
      });
      await expect(copy).rejects.toMatchObject({ code: '23505' });
      expect(performance.now() - started).toBeLessThan(10_000);
      // The connection is usable afterwards.
      expect(Array.from((await database.db.execute(sql`select 1 as one`)) as Iterable<{ one: number }>)).toEqual([
        { one: 1 },
      ]);
    } finally {
      await database.close();
    }
  });
});
