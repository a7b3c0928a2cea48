import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { sql } from 'drizzle-orm';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { databaseUrl, testDatabases } from '../../test/databases';
import { type FaultProxy, startFaultProxy } from '../../test/fault-proxy';
import { isDatabaseUnavailable } from '../http/errors';
import { copyRows, type Database, openCopy, openPostgres } from './client';
import { PostgresSockets } from './postgres-sockets';

/**
 * postgres.js 3.4.9, as patched (patches/postgres@3.4.9.patch): a connection lost while it fetches
 * its array types left an unhandled rejection that crashed the process, and a COPY the server
 * refused after all its data was sent never settled.
 */
const hasPostgres = testDatabases.some((d) => d.name === 'postgres');
const target = new URL(process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test');
const targetUrl = target;

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

/** `promise`, or a rejection saying what hung once `ms` passed. */
function within<T>(ms: number, promise: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const hung = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, hung]).finally(() => clearTimeout(timer));
}

const one = async (database: Database) =>
  Array.from((await database.db.execute(sql`select 1 as one`)) as Iterable<{ one: number }>)[0]?.one;

describe.runIf(hasPostgres)('the PostgreSQL connection pool under faults', () => {
  const target = { host: targetUrl.hostname, port: Number(targetUrl.port || 5432) };

  it('gives a refused connection back to the pool: queries fail fast, then succeed once the server answers', async () => {
    const proxy = await startFaultProxy(target);
    const database = await openPostgres(proxy.via(targetUrl.toString()), { max: 2 });
    try {
      expect(await one(database)).toBe(1);
      await proxy.set('refuse');
      // More refused attempts than the pool has connections: each must fail, none may hang.
      for (let i = 0; i < 5; i++) {
        const error = await within(
          10_000,
          database.db.execute(sql`select 1`).then(
            () => null,
            (e) => e,
          ),
          'refused',
        );
        expect(isDatabaseUnavailable(error)).toBe(true);
      }
      await proxy.set('pass');
      expect(await within(10_000, one(database), 'after the refusal')).toBe(1);
    } finally {
      await proxy.close();
      await within(10_000, database.close(), 'close').catch(() => undefined);
    }
  });

  it('moves on to the next host of a multi-host URL when one refuses, naming each socket by its host for TLS', async () => {
    // Port 1 on loopback refuses at once; the second host is the real server.
    const url = `postgres://${targetUrl.username || 'postgres'}@127.0.0.1:1,${target.host}:${target.port}${targetUrl.pathname}`;
    const database = await openPostgres(url, { max: 1 });
    try {
      let answered: unknown;
      for (let i = 0; i < 5 && answered === undefined; i++) {
        answered = await within(10_000, one(database), 'multi-host').catch(() => undefined);
      }
      expect(answered).toBe(1);
    } finally {
      await within(10_000, database.close(), 'close').catch(() => undefined);
    }
    // postgres.js wraps the socket in TLS with `servername: socket.host` (SNI).
    const sockets = new PostgresSockets();
    const socket = await sockets.open({ host: [target.host], port: [target.port] });
    expect(socket).toMatchObject({ host: target.host, port: target.port });
    socket.destroy();
  });

  it('fails a query whose connect fails at once (an unreachable network) without an uncaught error', async () => {
    // A connect to the broadcast address fails inside connect() (ENETUNREACH on Linux), before any I/O:
    // the socket's error must come after postgres.js listens to it.
    const database = await openPostgres('postgres://postgres@255.255.255.255:5432/test', { max: 1 });
    try {
      for (let i = 0; i < 3; i++) {
        await expect(within(10_000, database.db.execute(sql`select 1`), 'unreachable')).rejects.toBeTruthy();
      }
    } finally {
      await within(10_000, database.close(), 'close').catch(() => undefined);
    }
  });

  it('fails a query sent into a black hole once the health ping says the database is gone, and frees its slot', async () => {
    const proxy = await startFaultProxy(target);
    const database = await openPostgres(proxy.via(targetUrl.toString()), { max: 1 });
    try {
      expect(await one(database)).toBe(1);
      await proxy.set('black-hole');
      // No RST, no answer: only the health monitor can tell this from a slow query.
      const error = await within(
        15_000,
        database.db.execute(sql`select 2`).then(
          () => null,
          (e) => e,
        ),
        'black hole',
      );
      expect(isDatabaseUnavailable(error)).toBe(true);
      expect(database.health.available).toBe(false);
      await proxy.set('pass');
      expect(await within(10_000, one(database), 'after the black hole')).toBe(1);
    } finally {
      await proxy.close();
      await within(10_000, database.close(), 'close').catch(() => undefined);
    }
  });

  it('lets a long query run while the database answers its health pings', async () => {
    const proxy = await startFaultProxy(target);
    const database = await openPostgres(proxy.via(targetUrl.toString()), { max: 1 });
    try {
      // Longer than a ping's timeout and the quiet time before a silent socket is given up, together.
      const rows = await database.db.execute(sql`select pg_sleep(6), 'done' as status`);
      expect(Array.from(rows as Iterable<{ status: string }>)[0]?.status).toBe('done');
      expect(database.health.available).toBe(true);
    } finally {
      await proxy.close();
      await database.close();
    }
  });
});

/**
 * openCopy reserves a connection of the pool for its COPY (postgres.js's `reserve()`): a reserve that
 * fails, one whose connection closes while it waits, and a release after the connection closed must
 * each leave the pool whole (patches/postgres@3.4.9.patch). With one connection, a leaked slot hangs
 * the next query.
 */
describe.runIf(hasPostgres)('COPY on a pool of one connection under faults', () => {
  const postgresDb = testDatabases.find((d) => d.name === 'postgres') as (typeof testDatabases)[number];
  let direct: Database;
  let proxy: FaultProxy;
  let proxied: Database;
  beforeEach(async () => {
    direct = await postgresDb.open();
    await direct.db.execute(sql`create table copied (id text)`);
    const url = databaseUrl(direct) as string;
    proxy = await startFaultProxy({ host: new URL(url).hostname, port: Number(new URL(url).port || 5432) });
    proxied = await openPostgres(proxy.via(url), { max: 1 });
  });
  afterEach(async () => {
    await proxy.close();
    await within(10_000, proxied.close(), 'close').catch(() => undefined);
    await direct.close();
  });
  const copied = async () =>
    Array.from((await direct.db.execute(sql`select id from copied order by id`)) as Iterable<{ id: string }>).map(
      (r) => r.id,
    );
  /** Queries and COPYs in turn: each needs the one connection back. */
  const poolWorks = async () => {
    for (const id of ['x', 'y']) {
      expect(await within(10_000, one(proxied), 'a query')).toBe(1);
      await within(10_000, copyRows(proxied.db, 'copied', ['id'], [`${id}\n`]), 'a COPY');
    }
  };

  it('survives a COPY refused its connection', async () => {
    expect(await one(proxied)).toBe(1);
    await proxy.set('refuse');
    const refused = await within(
      10_000,
      copyRows(proxied.db, 'copied', ['id'], ['lost\n']).then(
        () => null,
        (e) => e,
      ),
      'refused COPY',
    );
    expect(isDatabaseUnavailable(refused)).toBe(true);
    await proxy.set('pass');
    await poolWorks();
    expect(await copied()).toEqual(['x', 'y']);
  });

  it.each([0, 300])('survives a COPY whose connection is reset %i ms before its rows are sent', async (pause) => {
    const copy = await openCopy(proxied.db, 'copied', ['id']);
    await proxy.set('reset');
    // With a pause the stream fails before anything writes to it: its error must not go uncaught.
    await new Promise((r) => setTimeout(r, pause));
    await expect(within(10_000, copy.write(['lost\n']), 'COPY on a reset connection')).rejects.toSatisfy(
      isDatabaseUnavailable,
    );
    await proxy.set('pass');
    await poolWorks();
    expect(await copied()).toEqual(['x', 'y']);
  });

  it('gives a COPY waiting for the connection one when that connection is reset', async () => {
    const busy = proxied.db.execute(sql`select pg_sleep(1)`).catch((e) => e);
    await new Promise((r) => setTimeout(r, 200));
    const waiting = openCopy(proxied.db, 'copied', ['id']);
    await new Promise((r) => setTimeout(r, 200));
    await proxy.set('reset');
    await proxy.set('pass');
    expect(isDatabaseUnavailable(await busy)).toBe(true);
    const copy = await within(10_000, waiting, 'a COPY waiting for a connection');
    await within(10_000, copy.write(['w\n']), 'its rows');
    await poolWorks();
    expect(await copied()).toEqual(['w', 'x', 'y']);
  });
});
