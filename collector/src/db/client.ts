import { Readable, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { PGlite } from '@electric-sql/pglite';
import type { SQL } from 'drizzle-orm';
import type { PgDatabase, PgDialect, PgQueryResultHKT } from 'drizzle-orm/pg-core';
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite';
import { migrate as migratePglite } from 'drizzle-orm/pglite/migrator';
import { drizzle as drizzlePostgres } from 'drizzle-orm/postgres-js';
import { migrate as migratePostgres } from 'drizzle-orm/postgres-js/migrator';
import postgres from 'postgres';
import { ADVISORY_LOCKS } from './advisory-locks';
import { type DatabaseHealth, type HealthOptions, PostgresHealth, pgliteHealth } from './database-health';
import { PostgresSockets } from './postgres-sockets';
import { ensurePrivateDir } from './private-dir';
import * as schema from './schema';

/** The one database type the rest of the collector uses, whichever driver is underneath. */
export type Db = PgDatabase<PgQueryResultHKT, typeof schema>;
/** A transaction behaves like the database it came from. */
export type Tx = Parameters<Parameters<Db['transaction']>[0]>[0];

export interface Database {
  db: Db;
  kind: 'pglite' | 'postgres';
  /** Whether the database answers, for readiness and for failing fast while it does not. */
  health: DatabaseHealth;
  migrate(): Promise<void>;
  /**
   * Calls `onNotify` with the payload of each notification on `channel` (NOTIFY, delivered on
   * commit), and `onListen` each time listening starts, the first time and after every reconnection:
   * what was sent while the listener was away is lost, so that is when to read everything again.
   * Resolves, once listening, to the function that stops it.
   */
  listen(channel: string, onNotify: (payload: string) => void, onListen: () => void): Promise<() => Promise<void>>;
  close(): Promise<void>;
}

const migrationsFolder = fileURLToPath(new URL('./migrations', import.meta.url));

/** Embedded PGlite kept in `dataDir` (in memory when `dataDir` is undefined), a directory only this user can enter. */
export async function openPglite(dataDir?: string): Promise<Database> {
  if (dataDir) ensurePrivateDir(dataDir);
  const client = dataDir ? new PGlite(dataDir) : new PGlite();
  await client.waitReady;
  // Old WAL segments are deleted, not renamed for reuse with their contents: after a deletion
  // (scrub-deleted-rows.ts) no WAL file may still hold the deleted rows.
  if (dataDir) await client.exec('set wal_recycle = off');
  const db = drizzlePglite(client, { schema });
  return {
    db: db as unknown as Db,
    kind: 'pglite',
    health: pgliteHealth(() => client.query('select 1')),
    migrate: () => migratePglite(db, { migrationsFolder }),
    // One connection in this process: it never drops, so listening starts once.
    listen: async (channel, onNotify, onListen) => {
      const unlisten = await client.listen(channel, onNotify);
      onListen();
      return () => unlisten();
    },
    close: () => client.close(),
  };
}

/**
 * postgres.js's delay before a connection that failed connects again: its own (0.5 to 1 times
 * 3^failures / 100 s), capped at 2 s instead of 20, so that the collector is back within seconds of
 * its database. Failures are counted across the pool until a connect succeeds.
 */
const reconnectDelay = (failures: number) => (0.5 + Math.random() / 2) * Math.min(3 ** failures / 100, 2);

/**
 * A real PostgreSQL server through postgres.js, watched by a health monitor (database-health.ts) on a
 * connection of its own: while the server does not answer, requests fail at once and connections it
 * went silent on are given up, so that an outage ends by itself.
 */
export async function openPostgres(
  url: string,
  options: {
    max?: number;
    health?: Partial<HealthOptions>;
    /** Told every statement the pool sends, with its parameters as sent (tests that examine the queries). */
    onQuery?: (text: string, params: readonly unknown[]) => void;
  } = {},
): Promise<Database> {
  const sockets = new PostgresSockets();
  const client = postgres(url, {
    max: options.max ?? 10,
    onnotice: () => {},
    // A dead server must fail fast so ingestion can answer 503 instead of hanging.
    connect_timeout: 5,
    backoff: reconnectDelay,
    // Not in postgres.js's type definitions, but a documented option: a factory of sockets.
    ...({ socket: sockets.open } as object),
    ...(options.onQuery
      ? { debug: (_: number, text: string, params: unknown[]) => options.onQuery?.(text, params) }
      : {}),
  });
  const pingSockets = new PostgresSockets();
  const pinger = postgres(url, {
    max: 1,
    onnotice: () => {},
    fetch_types: false,
    connect_timeout: 5,
    backoff: reconnectDelay,
    ...({ socket: pingSockets.open } as object),
  });
  const health = new PostgresHealth(
    () => pinger`select 1`.execute(),
    { ping: pingSockets, pool: sockets },
    options.health,
  );
  const db = drizzlePostgres(client, { schema });
  return {
    db: db as unknown as Db,
    kind: 'postgres',
    health,
    migrate: () => migrateOnce(url, () => migratePostgres(db, { migrationsFolder })),
    // postgres.js listens on a connection of its own, listens again after it drops, and calls onListen then.
    listen: async (channel, onNotify, onListen) => (await client.listen(channel, onNotify, onListen)).unlisten,
    async close() {
      await health.close();
      await pinger.end({ timeout: 1 });
      await client.end({ timeout: 5 });
    },
  };
}

/**
 * Runs `migrate` while holding the migrations' advisory lock, on a connection of its own (outside the
 * pool, whatever its size). Collectors started together on an empty database would otherwise create
 * the same schema at once, and all but one fail; in turn, the first applies the migrations and the
 * others find nothing left to do. The lock goes with its connection, so a collector that dies while
 * migrating holds up no other.
 */
async function migrateOnce(url: string, migrate: () => Promise<void>): Promise<void> {
  const lock = postgres(url, { max: 1, onnotice: () => {}, connect_timeout: 5, fetch_types: false });
  try {
    await lock`select pg_advisory_lock(${ADVISORY_LOCKS.migrations})`;
    try {
      await migrate();
    } finally {
      await lock`select pg_advisory_unlock(${ADVISORY_LOCKS.migrations})`;
    }
  } finally {
    await lock.end({ timeout: 1 });
  }
}

/** `DATABASE_URL` set: Postgres; unset: PGlite in `DATA_DIR`. */
export function openDatabase(config: { DATABASE_URL?: string | undefined; DATA_DIR: string }): Promise<Database> {
  return config.DATABASE_URL ? openPostgres(config.DATABASE_URL) : openPglite(config.DATA_DIR);
}

/**
 * Rows of a raw SQL query. Drizzle's `execute` answers in the driver's own shape (PGlite `{ rows }`,
 * postgres.js an array); this is the one place that difference is handled.
 *
 * `prepared`: on PostgreSQL the statement is parsed once per connection and, after five runs, planned
 * once (a generic plan), instead of both on every run; for the fixed queries every ingestion flush
 * makes. Only for SQL whose text does not vary: lists go as one parameter (sql-lists.ts). Rows come as
 * postgres.js reads them: dates as text, so select them in a form both drivers agree on.
 */
export async function queryRows<T>(db: Db | Tx, query: SQL, options: { prepared?: boolean } = {}): Promise<T[]> {
  const { session, dialect } = db as unknown as { session: { client: unknown }; dialect: PgDialect };
  const client = session.client as Partial<postgres.Sql>;
  if (options.prepared && typeof client.unsafe === 'function') {
    const { sql: text, params } = dialect.sqlToQuery(query);
    return (await client.unsafe(text, params as postgres.ParameterOrJSON<never>[], { prepare: true })) as T[];
  }
  const result: unknown = await db.execute(query);
  return (Array.isArray(result) ? result : (result as { rows: T[] }).rows) as T[];
}

/** A COPY opened ahead of its rows (openCopy). */
export interface OpenCopy {
  /** Sends the rows, pieces of COPY's text format, one after the other, and completes the COPY. */
  write(texts: readonly (string | Uint8Array<ArrayBuffer>)[]): Promise<void>;
  /** Cancels the COPY: nothing of it is stored. */
  abandon(): void;
}

/**
 * Opens a COPY into `table`, inside the transaction `tx` or on its own (then it commits itself), so
 * that its round trip can overlap other work before the rows follow. On postgres.js the statement is
 * sent and the server's go-ahead awaited, on a connection of its own outside a transaction (the pool
 * would otherwise queue other queries behind the COPY, into its data). PGlite loads a COPY from a
 * blob in one call: opening it does nothing.
 * COPY is several times faster than INSERT for ingestion, which is most of what the collector does.
 */
export async function openCopy(tx: Db | Tx, table: string, columns: readonly string[]): Promise<OpenCopy> {
  const client = (tx as unknown as { session: { client: CopyCapableClient } }).session.client;
  const statement = `copy ${table} (${columns.join(', ')}) from`;
  if (!('unsafe' in client)) {
    return {
      write: async (texts) => {
        await client.query(`${statement} '/dev/blob'`, [], { blob: new Blob([...texts]) });
      },
      abandon: () => {},
    };
  }
  const reserved = 'reserve' in client ? await client.reserve() : undefined;
  const connection = reserved ?? client;
  const release = () => reserved?.release();
  let stream: NodeJS.WritableStream;
  try {
    stream = await connection.unsafe(`${statement} stdin`).writable();
  } catch (e) {
    release();
    throw e;
  }
  // The connection may fail before the rows come (a flush reads first): the stream keeps the error
  // for write(), which fails with it; unheard, the stream's 'error' event would end the process.
  stream.on('error', () => {});
  return {
    async write(texts) {
      // A COPY the server refuses fails the stream (patches/postgres@3.4.9.patch); should the driver
      // still never settle one, it is ended here (the flush then fails) instead of stalling every later write.
      let timer: NodeJS.Timeout | undefined;
      const stuck = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error('COPY did not complete within 60 s')), 60_000);
      });
      try {
        await Promise.race([pipeline(Readable.from(texts), stream), stuck]);
      } catch (e) {
        (stream as Writable).destroy(); // a stuck COPY is cancelled before its connection goes back
        throw e;
      } finally {
        clearTimeout(timer);
        release();
      }
    },
    abandon() {
      // Destroying the stream sends CopyFail: the server leaves the COPY, storing nothing of it.
      (stream as Writable).destroy(new Error('COPY abandoned'));
      release();
    },
  };
}

/** Bulk-loads rows with COPY (openCopy, then its rows), inside the transaction `tx` or on its own. */
export async function copyRows(
  tx: Db | Tx,
  table: string,
  columns: readonly string[],
  texts: readonly (string | Uint8Array<ArrayBuffer>)[],
): Promise<void> {
  await (await openCopy(tx, table, columns)).write(texts);
}

interface CopyConnection {
  unsafe(query: string): { writable(): Promise<NodeJS.WritableStream> };
}
type CopyCapableClient =
  | CopyConnection
  | (CopyConnection & { reserve(): Promise<CopyConnection & { release(): void }> })
  | { query(query: string, params: unknown[], options: { blob: Blob }): Promise<unknown> };
