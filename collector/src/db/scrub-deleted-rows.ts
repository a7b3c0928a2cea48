import { sql } from 'drizzle-orm';
import type { Database } from './client';

/**
 * Makes deleted rows leave PGlite's data directory, so its files no longer hold them after a
 * deletion (GDPR erasure). A plain VACUUM only marks a dead row's space free: its bytes stay in the
 * page until something overwrites them. VACUUM FULL rewrites each table and its indexes into new
 * files and deletes the old ones; then a WAL switch and a checkpoint let PGlite delete the WAL
 * segments that held the rows (openPglite turns WAL recycling off, so they are deleted, not reused).
 * The rewrite holds PGlite, which has one connection, for as long as it takes to copy the tables:
 * a deletion waits for it before it answers, and so does every other query meanwhile.
 *
 * On PostgreSQL nothing is done here: VACUUM FULL would lock the tables for the whole rewrite.
 * Autovacuum frees the space; the server's WAL, backups and replicas are the operator's to manage.
 */
export async function scrubDeletedRows(database: Database, tables: readonly string[]): Promise<void> {
  if (database.kind !== 'pglite' || !tables.length) return;
  const list = sql.join(
    tables.map((t) => sql.identifier(t)),
    sql`, `,
  );
  await database.db.execute(sql`vacuum full ${list}`);
  await database.db.execute(sql`select pg_switch_wal()`);
  await database.db.execute(sql`checkpoint`);
}
