import { randomBytes } from 'node:crypto';
import postgres from 'postgres';
import { type Database, openPglite, openPostgres } from '../src/db/client';

/**
 * Where database tests run: always on PGlite, and on PostgreSQL when `TEST_DATABASE_URL` is set or
 * the local server answers. Under CI a missing PostgreSQL is an error, not a silent skip.
 */
const postgresUrl = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

async function postgresReachable(): Promise<boolean> {
  const sql = postgres(postgresUrl, { max: 1, connect_timeout: 3, onnotice: () => {} });
  try {
    await sql`select 1`;
    return true;
  } catch {
    return false;
  } finally {
    await sql.end({ timeout: 1 });
  }
}

const hasPostgres = await postgresReachable();
if (!hasPostgres && (process.env.CI || process.env.TEST_DATABASE_URL)) {
  throw new Error(`PostgreSQL is not reachable at ${postgresUrl}; the suite must run on it under CI.`);
}

export interface TestDatabase {
  name: 'pglite' | 'postgres';
  /** A fresh, migrated, empty database. */
  open(): Promise<Database>;
}

/** The URL of each throwaway PostgreSQL database, for tests that run real tools on it (pg_dump). */
const urls = new WeakMap<Database, string>();

/** The connection URL of a test database opened on the PostgreSQL server (undefined on PGlite). */
export const databaseUrl = (database: Database): string | undefined => urls.get(database);

/** A throwaway database on the server, dropped when the returned handle is closed. */
async function freshPostgres(): Promise<Database> {
  const name = `tributary_test_${randomBytes(6).toString('hex')}`;
  const admin = postgres(postgresUrl, { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database ${name}`);
  const url = new URL(postgresUrl);
  url.pathname = `/${name}`;
  const database = await openPostgres(url.toString(), { max: 5 });
  await database.migrate();
  const handle: Database = {
    ...database,
    async close() {
      await database.close();
      await admin.unsafe(`drop database if exists ${name} with (force)`);
      await admin.end();
    },
  };
  urls.set(handle, url.toString());
  return handle;
}

async function freshPglite(): Promise<Database> {
  const database = await openPglite();
  await database.migrate();
  return database;
}

/** PGlite alone, for tests of what no database changes (headers, preflights). */
export const pglite: TestDatabase = { name: 'pglite', open: freshPglite };

export const testDatabases: TestDatabase[] = [
  pglite,
  ...(hasPostgres ? [{ name: 'postgres' as const, open: freshPostgres }] : []),
];

export { hasPostgres, postgresUrl };
