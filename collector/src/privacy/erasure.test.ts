import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eq, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testDatabases } from '../../test/databases';
import { API_KEY, basicAuth, type Json, WRITE_KEY } from '../../test/harness';
import { type App, createApp } from '../app';
import { testConfig } from '../config';
import { type Database, openPglite, queryRows } from '../db/client';
import { customers } from '../db/schema';
import { AuditTrail } from './audit-trail';
import { tombstoneOf, tombstonesOf } from './tombstone';

let seq = 0;
const uid = (p: string) => `${p}-${Date.now().toString(36)}-${++seq}`;

/** An app on `database` whose audit trail journals into `dir`, as the server runs it. */
function appOn(database: Database, dir: string): App {
  return createApp({
    database,
    config: testConfig({ WRITE_KEYS: [WRITE_KEY], API_KEYS: [API_KEY] }),
    auditJournalPath: join(dir, 'audit-journal.ndjson'),
  });
}

function client(app: App) {
  const call = async (method: string, path: string, body?: unknown, auth = `Bearer ${API_KEY}`): Promise<Json> => {
    const res = await app.request(path, {
      method,
      headers: { 'content-type': 'application/json', authorization: auth },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await res.text();
    if (res.status >= 300 && res.status !== 404) throw new Error(`${method} ${path}: ${res.status} ${text}`);
    return text ? JSON.parse(text) : null;
  };
  const send = (type: string, body: unknown) => call('POST', `/v1/${type}`, body, basicAuth(WRITE_KEY));
  const ownerOf = async (type: string, value: string) =>
    (await call('GET', `/api/v1/cdp/identity/resolve?identityType=${type}&identityValue=${encodeURIComponent(value)}`))
      .customerId as string;
  return { call, send, ownerOf };
}

/** Every file under `dir`, as bytes. */
function filesUnder(dir: string): { path: string; bytes: Buffer }[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((d) => d.isFile())
    .map((d) => join(d.parentPath, d.name))
    .map((path) => ({ path, bytes: readFileSync(path) }));
}

/** A UUID as PostgreSQL stores the `uuid` type: 16 bytes. */
const uuidBytes = (id: string) => Buffer.from(id.replaceAll('-', ''), 'hex');

/**
 * A customer with a userId and a device, an anonymous customer merged into it, events, traits and a
 * consent, and audit entries naming both customers: in the database, and (the last one) only in the
 * trail's buffer and journal when the deletion comes.
 */
async function customerWithHistory(app: App) {
  const { call, send, ownerOf } = client(app);
  const userId = uid('erased-user');
  const anonymousId = uid('erased-device');
  const tablet = uid('erased-tablet');
  const email = `${uid('erased')}@example.com`;
  await send('identify', { userId, anonymousId, traits: { plan: 'pro' } });
  await send('identify', { anonymousId: tablet, traits: { email } });
  await app.writer.idle();
  const customerId = await ownerOf('EXTERNAL_ID', userId);
  const mergedId = await ownerOf('EMAIL', email);
  await call('GET', `/api/v1/cdp/customer360/${mergedId}`);
  await send('identify', { anonymousId: tablet, userId });
  await send('track', { userId, anonymousId, event: 'Viewed Erasure' });
  await app.writer.idle();
  expect(await ownerOf('EMAIL', email)).toBe(customerId);
  await call('POST', `/api/v1/cdp/consents/${customerId}`, { consentType: 'MARKETING_EMAIL', granted: true });
  await call('GET', `/api/v1/cdp/traits/${customerId}`);
  await call('GET', `/api/v1/cdp/customer360/${customerId}`);
  await call('GET', `/api/v1/admin/customers/${customerId}/export`);
  await app.audit.flush();
  // Recorded, not yet written: in the buffer and the journal file only.
  await call('GET', `/api/v1/cdp/consents/${customerId.toUpperCase()}`);
  return { userId, anonymousId, tablet, customerId, mergedId };
}

describe.each(testDatabases)('deletion and the audit trail on $name', (db) => {
  let database: Database;
  let app: App;
  let dir: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tributary-erasure-'));
    database = await db.open();
    app = appOn(database, dir);
  });
  afterAll(async () => {
    await app.writer.idle();
    await app.audit.flush();
    await app.refresher.idle();
    app.refresher.close();
    await database.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('leaves no customer ID in the audit trail or the regulation record: a stable tombstone instead', async () => {
    const { call } = client(app);
    const { customerId, mergedId } = await customerWithHistory(app);
    const before = await queryRows<{ n: number }>(
      database.db,
      sql`select count(*)::int as n from audit_log where customer_id = ${customerId}`,
    );
    expect(before[0]?.n).toBeGreaterThanOrEqual(4);
    const earlier = await call('POST', '/api/v1/admin/regulations', { regulationType: 'SUPPRESS', customerId });

    const regulation = await call('POST', '/api/v1/admin/regulations', { regulationType: 'DELETE_ONLY', customerId });
    const tombstone = tombstoneOf(app.keyring, customerId);
    expect(tombstone).not.toBe(customerId);
    expect(tombstone).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(regulation).toMatchObject({ regulationType: 'DELETE_ONLY', status: 'FINISHED', customerId: tombstone });

    // The journal no longer names the customers, even before the entries are written.
    const journal = filesUnder(dir)
      .map((f) => f.bytes.toString('utf8'))
      .join('\n');
    expect(journal.toLowerCase()).not.toContain(customerId);
    expect(journal).not.toContain(mergedId);
    // A request naming the deleted customer after its deletion is recorded by the tombstone too.
    await call('GET', `/api/v1/cdp/traits/${customerId}`);
    await app.audit.flush();

    const leftovers = await queryRows<{ n: number }>(
      database.db,
      sql`select count(*)::int as n from audit_log
          where customer_id in (${customerId}, ${mergedId})
             or endpoint ilike ${`%${customerId}%`} or endpoint ilike ${`%${mergedId}%`}`,
    );
    expect(leftovers[0]?.n).toBe(0);
    const regulations = await queryRows<{ customer_id: string }>(
      database.db,
      sql`select customer_id from regulations where id in (${earlier.id}, ${regulation.id})`,
    );
    expect(regulations.map((r) => r.customer_id)).toEqual([tombstone, tombstone]);

    // The entries that named the customer still belong together, and whoever knows the ID still finds them.
    const { entries } = await call('GET', `/api/v1/admin/audit?customerId=${customerId}&limit=100`);
    expect(entries.length).toBeGreaterThanOrEqual((before[0]?.n ?? 0) + 2);
    expect(new Set(entries.map((e: Json) => e.customerId))).toEqual(new Set([tombstone]));
    expect(entries.map((e: Json) => e.endpoint)).toContain(`/api/v1/cdp/customer360/${tombstone}`);
    expect(entries.map((e: Json) => e.endpoint)).toContain(`/api/v1/cdp/consents/${tombstone}`);
    const merged = await call('GET', `/api/v1/admin/audit?customerId=${mergedId}`);
    expect(merged.entries.map((e: Json) => e.customerId)).toEqual([tombstoneOf(app.keyring, mergedId)]);
  });

  it('tombstones entries still in the buffer, in a write under way and in the journal', async () => {
    const journalPath = join(dir, 'unit-journal.ndjson');
    const trail = new AuditTrail(database.db, { journalPath, flushIntervalMs: 60_000, keyring: app.keyring });
    // Customers that exist when their entries are recorded; one of them is then deleted.
    const [gone, kept] = (await database.db.insert(customers).values([{}, {}]).returning({ id: customers.id })).map(
      (r) => r.id,
    ) as [string, string];
    const entry = (customerId: string) => ({
      keyId: 'env:test',
      action: 'GET /customer360/:customerId',
      customerId,
      method: 'GET',
      endpoint: `/api/v1/cdp/customer360/${customerId}`,
      status: 200,
      outcome: 'success',
      at: new Date(),
    });
    const journal = () =>
      filesUnder(dir)
        .filter((f) => f.path.includes('unit-journal'))
        .map((f) => f.bytes.toString('utf8'))
        .join('\n');

    // A write under way: it sent the ID before the deletion, and lands after the deletion's own update.
    trail.record(entry(gone));
    const writing = trail.flush();
    while (trail.pending) await new Promise((resolve) => setImmediate(resolve));
    // In the buffer and the journal.
    trail.record(entry(gone));
    trail.record(entry(kept));
    expect(journal()).toContain(gone);

    const tombstones = tombstonesOf(app.keyring, [gone]);
    await database.db.delete(customers).where(eq(customers.id, gone));
    await trail.forget(tombstones);
    expect(journal()).not.toContain(gone);
    expect(journal()).toContain(kept);
    await writing;
    await trail.flush();
    const rows = await queryRows<{ customer_id: string; endpoint: string }>(
      database.db,
      sql`select customer_id, endpoint from audit_log where customer_id in (${gone}, ${kept}, ${tombstones.get(gone)})`,
    );
    const tombstone = tombstones.get(gone);
    expect(rows.map((r) => r.customer_id).sort()).toEqual([kept, tombstone, tombstone].sort());
    expect(rows.filter((r) => r.endpoint.includes(gone))).toEqual([]);
  });
});

describe('deletion on PGlite in a data directory', () => {
  let dir: string;
  let database: Database;
  let app: App;
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    await app.writer.idle();
    await app.audit.flush();
    await app.refresher.idle();
    app.refresher.close();
    await database.close();
  };
  beforeAll(async () => {
    dir = join(mkdtempSync(join(tmpdir(), 'tributary-vacuum-')), 'data');
    database = await openPglite(dir);
    await database.migrate();
    app = appOn(database, dir);
  });
  afterAll(async () => {
    await close();
    rmSync(join(dir, '..'), { recursive: true, force: true });
  });

  it('keeps the data directory private: 0700, the journal 0600', () => {
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    app.audit.record({
      keyId: 'env:test',
      action: 'GET /x',
      customerId: null,
      method: 'GET',
      endpoint: '/x',
      status: 200,
      outcome: 'success',
      at: new Date(),
    });
    expect(statSync(join(dir, 'audit-journal.ndjson')).mode & 0o777).toBe(0o600);
  });

  it("leaves none of the deleted customer's identifiers in the database's files", { timeout: 120_000 }, async () => {
    const { call, send } = client(app);
    const person = await customerWithHistory(app);
    // Someone else, whose data must stay.
    const keptUser = uid('kept-user');
    await send('identify', { userId: keptUser, anonymousId: uid('kept-device') });
    await app.writer.idle();
    const needles = {
      userId: Buffer.from(person.userId),
      anonymousId: Buffer.from(person.anonymousId),
      tablet: Buffer.from(person.tablet),
      customerId: Buffer.from(person.customerId),
      customerIdBinary: uuidBytes(person.customerId),
      mergedIdBinary: uuidBytes(person.mergedId),
    };
    const holding = () =>
      Object.entries(needles).flatMap(([name, bytes]) =>
        filesUnder(dir)
          .filter((f) => f.bytes.includes(bytes))
          .map((f) => `${name} in ${f.path.slice(dir.length)}`),
      );
    expect(holding().length).toBeGreaterThan(0);

    await call('POST', '/api/v1/admin/regulations', {
      regulationType: 'SUPPRESS_WITH_DELETE',
      customerId: person.customerId,
    });
    await app.audit.flush();
    expect(holding()).toEqual([]);
    // The collector goes on working in the vacuumed database.
    await send('track', { userId: keptUser, event: 'After Vacuum' });
    await app.writer.idle();
    const { events } = await call('GET', '/api/v1/cdp/events?limit=5');
    expect(events.map((e: Json) => e.eventName)).toContain('After Vacuum');

    // At rest, once PGlite has written every page: still nothing of the deleted customer, the rest kept.
    await close();
    expect(holding()).toEqual([]);
    expect(filesUnder(dir).some((f) => f.bytes.includes(Buffer.from(keptUser)))).toBe(true);
  });
});
