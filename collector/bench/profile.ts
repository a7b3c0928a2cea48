/**
 * `pnpm bench:profile`: the profile API on PostgreSQL at scale. Builds a throwaway database with
 * 1,000,000 events across 100,000 customers plus one customer with 10,000 events, 50 traits,
 * 5 identities and a few segments, then measures through the real app (in-process requests):
 * Customer 360 latency, compute-engagement, compute-ltv, segment evaluation, and an identify that
 * stitches an anonymous history of 100,000 events beside one of 10. Drops the database at the end.
 */
import { randomBytes } from 'node:crypto';
import postgres from 'postgres';
import { createApp } from '../src/app';
import { testConfig } from '../src/config';
import { openPostgres } from '../src/db/client';
import { blindIndex } from '../src/privacy/encryption';

const ADMIN_URL = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const CUSTOMERS = 100_000;
const EVENTS = 1_000_000;
const TARGET_EVENTS = 10_000;
const READS = 1_000;
const API_KEY = 'sk_bench_api_key_24_chars';
const WRITE_KEY = 'wk_bench_write_key_24chars';

const quantile = (sorted: number[], q: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
const median = (xs: number[]) =>
  quantile(
    [...xs].sort((a, b) => a - b),
    0.5,
  );
const ms = (v: number) => `${v.toFixed(1)} ms`;

async function main() {
  const name = `tributary_bench_${randomBytes(4).toString('hex')}`;
  const admin = postgres(ADMIN_URL, { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database ${name}`);
  const url = new URL(ADMIN_URL);
  url.pathname = `/${name}`;
  const database = await openPostgres(url.toString(), { max: 10 });
  const rows: [string, string][] = [];
  const started = performance.now();
  try {
    await database.migrate();
    const sql = postgres(url.toString(), { max: 1, onnotice: () => {} });
    const app = createApp({ database, config: testConfig({ API_KEYS: [API_KEY], WRITE_KEYS: [WRITE_KEY] }) });
    const call = async (method: string, path: string, body?: unknown) => {
      const res = await app.request(path, {
        method,
        headers: { 'content-type': 'application/json', authorization: `Bearer ${API_KEY}` },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
      return res.json() as Promise<Record<string, unknown>>;
    };
    const send = async (type: string, body: unknown) => {
      const res = await app.request(`/v1/${type}`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          authorization: `Basic ${Buffer.from(`${WRITE_KEY}:`).toString('base64')}`,
        },
        body: JSON.stringify(body),
      });
      if (res.status !== 200) throw new Error(`/v1/${type}: ${res.status} ${await res.text()}`);
    };
    const time = async <T>(work: () => Promise<T>) => {
      const t = performance.now();
      const result = await work();
      return { ms: performance.now() - t, result };
    };

    // --- Population: 100,000 customers (cookie IDs, half with a userId), 1,000,000 events over two years.
    let t = performance.now();
    await sql.unsafe(`
      create table bench_customers as select g, gen_random_uuid() as id from generate_series(1, ${CUSTOMERS}) g;
      insert into customers (id, created_at) select id, now() - interval '800 days' from bench_customers;
      insert into customer_identities (customer_id, identity_type, identity_value)
        select id, 'COOKIE_ID'::identity_type, 'anon-' || g from bench_customers
        union all select id, 'EXTERNAL_ID', 'user-' || g from bench_customers where g % 2 = 0;
      insert into customer_events (message_id, anonymous_id, user_id, call_type, event_type, event_name, properties, timestamp, received_at)
        select 'ev-' || i, 'anon-' || c, case when c % 2 = 0 and i % 3 = 0 then 'user-' || c end, 'track', t::event_type, t,
          case when t = 'PURCHASE' then jsonb_build_object('revenue', 20 + (i % 480)) else jsonb_build_object('n', i) end,
          now() - make_interval(secs => (i * 7919 % 63072000)::float8), now()
        from (
          select i, 1 + (i * 2654435761 % ${CUSTOMERS}) as c,
            (array['PAGE_VIEW','PAGE_VIEW','PAGE_VIEW','PAGE_VIEW','BUTTON_CLICK','SEARCH','LOGIN','QUOTE_VIEW','QUOTE_REQUEST','POLICY_VIEW','MESSAGE_READ','DOCUMENT_VIEW','PURCHASE','CUSTOM'])[1 + (i * 31 % 14)] as t
          from generate_series(1::bigint, ${EVENTS}::bigint) i
        ) s;
      drop table bench_customers;
    `);
    rows.push(['population load (1,000,000 events, 100,000 customers)', ms(performance.now() - t)]);

    // --- The customer under test: made by identify, 5 identities, 10,000 events, 50 traits, consents, segments.
    t = performance.now();
    await send('identify', {
      userId: 'bench-user',
      anonymousId: 'bench-anon',
      traits: { email: 'bench@example.com', phone: '+14155550100' },
    });
    await app.writer.idle();
    const [{ customer_id: cid } = { customer_id: '' }] = await sql<{ customer_id: string }[]>`
      select customer_id from customer_identities where identity_type = 'EXTERNAL_ID' and identity_value = 'bench-user'`;
    await sql`insert into customer_identities (customer_id, identity_type, identity_value) values (${cid}, 'COOKIE_ID', 'bench-anon-2')`;
    await sql.unsafe(`
      insert into customer_events (message_id, anonymous_id, user_id, call_type, event_type, event_name, properties, timestamp, received_at)
      select 'target-' || i, case when i % 3 = 0 then 'bench-anon' when i % 3 = 1 then 'bench-anon-2' end,
        case when i % 3 = 2 then 'bench-user' end, 'track', t::event_type, t,
        case when t = 'PURCHASE' then jsonb_build_object('revenue', 50 + i % 200) else '{}'::jsonb end,
        now() - make_interval(secs => i * 3000), now() - make_interval(secs => i * 3000)
      from (select i, (array['PAGE_VIEW','PAGE_VIEW','LOGIN','QUOTE_VIEW','QUOTE_REQUEST','POLICY_VIEW','MESSAGE_READ','PURCHASE','CLAIM_SUBMIT','CUSTOM'])[1 + i % 10] as t
            from generate_series(1, ${TARGET_EVENTS}) i) s`);
    await sql.unsafe(`
      insert into customer_traits (customer_id, trait_key, trait_value, trait_type, source)
      select '${cid}', 'trait_' || g, to_jsonb(g), 'BEHAVIORAL', 'bench' from generate_series(1, 49) g;
      insert into customer_traits (customer_id, trait_key, trait_value, trait_type) values ('${cid}', 'plan', '"gold"', 'PREFERENCE');
      insert into customer_consents (customer_id, consent_type, granted) values ('${cid}', 'MARKETING_EMAIL', true), ('${cid}', 'MARKETING_SMS', false);
      analyze;`);
    const identities = await sql`select count(*)::int as n from customer_identities where customer_id = ${cid}`;
    const segments = [
      await call('POST', '/api/v1/cdp/segments', { name: 'VIP', segmentType: 'STATIC' }),
      await call('POST', '/api/v1/cdp/segments', {
        name: 'Gold plan',
        segmentType: 'DYNAMIC',
        rules: { trait: { key: 'plan', operator: 'equals', value: 'gold' } },
      }),
      await call('POST', '/api/v1/cdp/segments', {
        name: 'Recent quoters',
        segmentType: 'BEHAVIORAL',
        rules: { event: { eventType: 'QUOTE_REQUEST', withinDays: 30 } },
      }),
      await call('POST', '/api/v1/cdp/segments', { name: 'RFM', segmentType: 'RFM' }),
    ];
    await app.refresher.idle();
    await call('POST', `/api/v1/cdp/segments/${segments[0]?.id}/members/${cid}`);
    rows.push([
      `target customer (10,000 events, 50 traits, ${identities[0]?.n} identities, 4 segments)`,
      ms(performance.now() - t),
    ]);

    for (const s of segments.slice(1)) {
      const r = await time(() => call('POST', `/api/v1/cdp/segments/${s.id}/evaluate`));
      rows.push([`evaluate segment "${s.name}" over 100,000 customers (${r.result.memberCount} members)`, ms(r.ms)]);
    }

    // --- Scores and lifetime value.
    app.models.invalidate();
    const ltvCold = await time(() => call('POST', `/api/v1/cdp/customer360/${cid}/compute-ltv`));
    const model = (
      ltvCold.result.lifetimeValue as { model: { bgNbd: Record<string, unknown>; population: Record<string, unknown> } }
    ).model;
    rows.push([
      `compute-ltv, first (fits BG/NBD on ${model.population.buyers} buyers: ${model.bgNbd.source})`,
      ms(ltvCold.ms),
    ]);
    const ltvWarm: number[] = [];
    for (let i = 0; i < 20; i++)
      ltvWarm.push((await time(() => call('POST', `/api/v1/cdp/customer360/${cid}/compute-ltv`))).ms);
    rows.push(['compute-ltv, model fitted (median of 20)', ms(median(ltvWarm))]);
    const engagement: number[] = [];
    for (let i = 0; i < 20; i++)
      engagement.push((await time(() => call('POST', `/api/v1/cdp/customer360/${cid}/compute-engagement`))).ms);
    rows.push(['compute-engagement incl. journey (median of 20)', ms(median(engagement))]);
    const traits: number[] = [];
    for (let i = 0; i < 10; i++)
      traits.push((await time(() => call('POST', `/api/v1/cdp/traits/${cid}/compute-engagement`))).ms);
    rows.push(['traits compute-engagement (median of 10)', ms(median(traits))]);

    // --- Customer 360: many reads of the fresh view.
    const view = await call('GET', `/api/v1/cdp/customer360/${cid}`);
    const sizes = `${(view.recentEvents as unknown[]).length} events, ${(view.traits as unknown[]).length} traits, ${(view.journeySteps as unknown[]).length} steps, ${(view.segments as unknown[]).length} segments`;
    const reads: number[] = [];
    for (let i = 0; i < READS; i++) reads.push((await time(() => call('GET', `/api/v1/cdp/customer360/${cid}`))).ms);
    reads.sort((a, b) => a - b);
    rows.push([`Customer 360 p50 (${READS} reads; ${sizes})`, ms(quantile(reads, 0.5))]);
    rows.push([`Customer 360 p99`, ms(quantile(reads, 0.99))]);
    await sql`update customer_engagement_scores set computed_at = now() - interval '1 hour' where customer_id = ${cid}`;
    await sql`update customer_lifetime_values set computed_at = now() - interval '1 hour' where customer_id = ${cid}`;
    rows.push([
      'Customer 360 when stale (recomputes engagement, journey, LTV)',
      ms((await time(() => call('GET', `/api/v1/cdp/customer360/${cid}`))).ms),
    ]);

    // --- Identify that stitches an anonymous customer's history into a known one: 100,000 events vs 10.
    for (const size of [100_000, 10]) {
      const times: number[] = [];
      for (let k = 0; k < 3; k++) {
        const tag = `stitch-${size}-${k}`;
        // Lookups go through the blind index, so the rows get the hash the collector would have written.
        const userHash = blindIndex(app.keyring, 'EXTERNAL_ID', `${tag}-user`);
        const anonHash = blindIndex(app.keyring, 'COOKIE_ID', `${tag}-anon`);
        await sql.unsafe(`
          with known as (insert into customers default values returning id),
            anon as (insert into customers default values returning id),
            ids as (insert into customer_identities (customer_id, identity_type, identity_value, value_hash)
              select id, 'EXTERNAL_ID'::identity_type, '${tag}-user', '${userHash}' from known
              union all select id, 'COOKIE_ID'::identity_type, '${tag}-anon', '${anonHash}' from anon)
          insert into customer_events (message_id, anonymous_id, call_type, event_type, event_name, timestamp, received_at)
          select '${tag}-' || i, '${tag}-anon', 'page', 'PAGE_VIEW', 'Page', now() - make_interval(secs => i), now()
          from generate_series(1, ${size}) i`);
        await sql`analyze customer_events`;
        times.push((await time(() => send('identify', { userId: `${tag}-user`, anonymousId: `${tag}-anon` }))).ms);
        const [owner] = await sql<{ n: number }[]>`
          select count(*)::int as n from customer_identities i join customer_identities u on u.customer_id = i.customer_id
          where i.identity_value = ${`${tag}-anon`} and u.identity_value = ${`${tag}-user`}`;
        if (owner?.n !== 1) throw new Error(`${tag} was not stitched`);
      }
      rows.push([`identify stitching ${size.toLocaleString('en')} anonymous events (median of 3)`, ms(median(times))]);
    }
    await app.refresher.idle();
    app.refresher.close();
    await sql.end();
  } finally {
    await database.close();
    await admin.unsafe(`drop database if exists ${name} with (force)`);
    await admin.end();
  }
  const width = Math.max(...rows.map(([k]) => k.length));
  console.log(`\nProfile benchmark on PostgreSQL (${((performance.now() - started) / 1000).toFixed(0)} s in all)\n`);
  console.log(`${'measure'.padEnd(width)} | time`);
  console.log(`${'-'.repeat(width)}-|-${'-'.repeat(10)}`);
  for (const [k, v] of rows) console.log(`${k.padEnd(width)} | ${v}`);
}

await main();
