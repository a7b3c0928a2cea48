import { randomBytes, randomUUID } from 'node:crypto';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hasPostgres, postgresUrl } from '../../test/databases';
import { basicAuth, WRITE_KEY } from '../../test/harness';
import { type RunningCollector, startCollector } from '../../test/start-collector';
import { openPostgres } from './client';

/** The tables that grow with traffic: a lookup that scans one costs more with every visitor. */
const GROWING = new Set(['customer_identities', 'customer_events', 'customer_consents', 'customers']);

interface PlanNode {
  'Node Type': string;
  'Relation Name'?: string;
  'Actual Rows': number;
  'Actual Loops': number;
  'Rows Removed by Filter'?: number;
  'Rows Removed by Index Recheck'?: number;
  Plans?: PlanNode[];
}

/** The most rows a flush of a few dozen events may read of a table that grows (of 50,000 and more). */
const MAX_ROWS_READ = 2_000;

/** The rows each scan of a table in a plan read (kept and filtered out), as `[table, rows]`. */
const rowsReadOf = (node: PlanNode): [string, number][] => {
  const table = node['Relation Name'];
  const read =
    (node['Actual Rows'] + (node['Rows Removed by Filter'] ?? 0) + (node['Rows Removed by Index Recheck'] ?? 0)) *
    node['Actual Loops'];
  return [
    ...(table && /Scan$/.test(node['Node Type']) ? [[table, read] as [string, number]] : []),
    ...(node.Plans ?? []).flatMap(rowsReadOf),
  ];
};

/**
 * Tables the size of a small site (50,000 customers with two identities and a consent each, 50,000
 * events), analyzed: the planner chooses as it would in production. Smaller, reading a table whole
 * can be the cheaper plan (at 20,000 customers the identify-traits update reads customers whole) and
 * proves nothing; larger, the seeding slows the tests running beside this one.
 */
const SEED = `
  insert into customers (id) select gen_random_uuid() from generate_series(1, 50000);
  insert into customer_identities (customer_id, identity_type, identity_value, value_hash)
    select id, 'COOKIE_ID', 'seed-' || id, md5('c' || id) from customers;
  insert into customer_identities (customer_id, identity_type, identity_value, value_hash)
    select id, 'EXTERNAL_ID', 'seed-user-' || id, md5('e' || id) from customers;
  insert into customer_consents (customer_id, consent_type, granted) select id, 'DATA_PROCESSING', true from customers;
  insert into customer_events (message_id, anonymous_id, call_type, event_type, event_name, timestamp, received_at)
    select 'seed-' || g, 'seed-anon-' || (g % 50000), 'track', 'CUSTOM', 'Seeded', now(), now()
    from generate_series(1, 50000) g;
  analyze;`;

// Ingestion's cost must not grow with the tables: every statement a flush sends finds its rows
// through an index. Each is run again under EXPLAIN ANALYZE (and rolled back) to count the rows it
// read of each table: a lookup that reads thousands for a few dozen events scans, by table or by index.
describe.runIf(hasPostgres)('the statements ingestion sends, on PostgreSQL', () => {
  const name = `tributary_test_${randomBytes(6).toString('hex')}`;
  const admin = postgres(postgresUrl, { max: 1, onnotice: () => {} });
  const url = new URL(postgresUrl);
  url.pathname = `/${name}`;
  /** Each statement the collector sent while recording, with the parameters of its last run. */
  const statements = new Map<string, readonly unknown[]>();
  let recording = false;
  let collector: RunningCollector;

  beforeAll(async () => {
    await admin.unsafe(`create database ${name}`);
    const database = await openPostgres(url.toString(), {
      max: 4,
      onQuery: (text, params) => {
        if (recording) statements.set(text, params);
      },
    });
    collector = await startCollector({ database });
    const seeder = postgres(url.toString(), { max: 1, onnotice: () => {} });
    await seeder.unsafe(SEED);
    await seeder.end();
  });
  afterAll(async () => {
    await collector?.close();
    await admin.unsafe(`drop database if exists ${name} with (force)`);
    await admin.end();
  });

  const send = (batch: Record<string, unknown>[]) =>
    fetch(`${collector.url}/v1/batch`, {
      method: 'POST',
      headers: { authorization: basicAuth(WRITE_KEY), 'content-type': 'application/json' },
      body: JSON.stringify({ batch }),
    });

  it('use an index on every table that grows, for new visitors, returning ones, logins and consent', async () => {
    const consent = (analytics: boolean) => ({ consent: { categoryPreferences: { analytics, marketing: false } } });
    const returning = Array.from({ length: 20 }, () => ({ anonymousId: randomUUID(), userId: `u-${randomUUID()}` }));
    await send(returning.map((v) => ({ type: 'identify', ...v, traits: { email: `${v.userId}@example.com` } })));

    recording = true;
    const mix = [
      // New visitors, some with consent in their context.
      ...Array.from({ length: 5 }, (_, i) => ({
        type: 'page',
        anonymousId: randomUUID(),
        name: 'Home',
        context: i % 2 ? consent(true) : {},
      })),
      // Returning customers, by userId and by anonymous ID.
      ...returning.slice(0, 5).map((v) => ({ type: 'track', ...v, event: 'Viewed' })),
      ...returning.slice(5, 10).map((v) => ({ type: 'track', anonymousId: v.anonymousId, event: 'Viewed' })),
      // Logins of new and known people, an alias, a consent change.
      { type: 'identify', userId: `u-${randomUUID()}`, anonymousId: randomUUID(), traits: { email: 'x@example.com' } },
      { type: 'identify', ...returning[10], traits: { plan: 'pro' }, context: consent(false) },
      { type: 'alias', userId: `u-${randomUUID()}`, previousId: returning[11]?.userId, anonymousId: randomUUID() },
      { type: 'track', ...returning[12], event: 'Order Completed', properties: { revenue: 10 } },
    ];
    expect((await send(mix)).status).toBe(200);
    // A second flush of the same visitors: the path of returning traffic.
    expect((await send(mix.map((e) => ({ ...e, messageId: randomUUID() })))).status).toBe(200);
    await collector.app.writer.idle();
    recording = false;

    const explainer = postgres(url.toString(), { max: 1, onnotice: () => {} });
    // The parameters come serialized, JSON ones as their text: sent as they are, as Drizzle sends them.
    for (const oid of [114, 3802]) explainer.options.serializers[oid] = (x: unknown) => x as string;
    const scanning: string[] = [];
    try {
      for (const [text, params] of statements) {
        // Reads and changes of rows; an insert of values reads no table (and would conflict when run again).
        if (!/^\s*(select|update|delete|with)\b/i.test(text) || /pg_advisory/i.test(text)) continue;
        // Run again as it ran, counting what it read; throwing out of `begin` rolls it back.
        const plan = await explainer
          .begin(async (tx) => {
            const [row] = await tx.unsafe(`explain (analyze, format json) ${text}`, params as never[]);
            const [explained] = (row?.['QUERY PLAN'] ?? []) as { Plan: PlanNode }[];
            throw { plan: explained?.Plan };
          })
          .catch((e: { plan?: PlanNode }) => {
            if (!('plan' in e)) throw e;
            return e.plan;
          });
        const scanned = (plan ? rowsReadOf(plan) : [])
          .filter(([table, rows]) => GROWING.has(table) && rows > MAX_ROWS_READ)
          .map(([table, rows]) => `${table} (${rows} rows)`);
        if (scanned.length) scanning.push(`${scanned.join(', ')}: ${text.replace(/\s+/g, ' ').slice(0, 300)}`);
      }
    } finally {
      await explainer.end();
    }
    expect(statements.size).toBeGreaterThan(5);
    expect(scanning).toEqual([]);
  });
});
