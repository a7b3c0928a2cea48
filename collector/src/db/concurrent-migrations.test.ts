import { randomBytes } from 'node:crypto';
import { readdirSync } from 'node:fs';
import postgres from 'postgres';
import { afterAll, describe, expect, it } from 'vitest';
import { hasPostgres, postgresUrl } from '../../test/databases';
import { openPostgres } from './client';

// Collectors started together on an empty database (a deployment's replicas, a restart of them all)
// each run the migrations at start.
describe.runIf(hasPostgres)('migrations on PostgreSQL', () => {
  const name = `tributary_test_${randomBytes(6).toString('hex')}`;
  const admin = postgres(postgresUrl, { max: 1, onnotice: () => {} });
  afterAll(async () => {
    await admin.unsafe(`drop database if exists ${name} with (force)`);
    await admin.end();
  });

  it('apply once when several collectors start at the same time on an empty database', async () => {
    await admin.unsafe(`create database ${name}`);
    const url = new URL(postgresUrl);
    url.pathname = `/${name}`;
    const collectors = await Promise.all(Array.from({ length: 4 }, () => openPostgres(url.toString(), { max: 2 })));
    try {
      const results = await Promise.allSettled(collectors.map((c) => c.migrate()));
      expect(results.filter((r) => r.status === 'rejected')).toEqual([]);
      const sql = postgres(url.toString(), { max: 1, onnotice: () => {} });
      const [applied] = await sql`select count(*)::int as n from drizzle.__drizzle_migrations`;
      const [tables] = await sql`select count(*)::int as n from pg_tables where tablename = 'customer_events'`;
      await sql.end();
      expect(tables?.n).toBe(1);
      // Each migration recorded once, not once per collector.
      const files = readdirSync(new URL('./migrations', import.meta.url)).filter((f) => f.endsWith('.sql'));
      expect(applied?.n).toBe(files.length);
    } finally {
      await Promise.all(collectors.map((c) => c.close()));
    }
  });
});
