import { eq, sql } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { identifyCustomer } from '../../test/customers';
import { testDatabases } from '../../test/databases';
import { API_KEY, useApp } from '../../test/harness';
import { createApp } from '../app';
import { testConfig } from '../config';
import { queryRows } from '../db/client';
import { customerEvents, customers } from '../db/schema';
import { applyIpMode } from './ip-mode';
import { runRetention } from './retention';
import { tombstoneOf } from './tombstone';

const eventsBy = async (h: ReturnType<typeof useApp>, anonymousId: string) =>
  h.database.db.select().from(customerEvents).where(eq(customerEvents.anonymousId, anonymousId));

describe('IP_MODE', () => {
  it.each([
    ['keep', '203.0.113.77', '203.0.113.77'],
    ['truncate', '203.0.113.77', '203.0.113.0'],
    ['truncate', '2001:db8:85a3:8d3:1319:8a2e:370:7348', '2001:db8:85a3::'],
    ['truncate', '::ffff:198.51.100.9', '::ffff:198.51.100.0'],
    ['drop', '203.0.113.77', null],
  ] as const)('%s %s -> %s', (mode, ip, expected) => {
    expect(applyIpMode(ip, mode)).toBe(expected);
  });
});

describe.each(testDatabases)('privacy and data rights on $name', (db) => {
  const h = useApp(db);

  it('records reads and changes of customer data in the audit trail, with filters', async () => {
    const customerId = await identifyCustomer(h, `audited-${crypto.randomUUID()}`);
    await h.call('GET', `/api/v1/cdp/traits/${customerId}`);
    await h.call('POST', `/api/v1/cdp/traits/${customerId}`, { traitKey: 'k', traitValue: 1, traitType: 'BEHAVIORAL' });
    await h.call('GET', `/api/v1/cdp/traits/${crypto.randomUUID()}`);
    const res = await h.call('GET', `/api/v1/admin/audit?customerId=${customerId}`);
    expect(res.status).toBe(200);
    const { entries } = await res.json();
    expect(entries.map((e: { method: string }) => e.method).sort()).toEqual(['GET', 'POST']);
    expect(entries[0]).toMatchObject({ customerId, keyId: expect.stringMatching(/^env:/), outcome: 'success' });
    const refused = await (await h.call('GET', '/api/v1/admin/audit?outcome=refused&limit=500')).json();
    expect(refused.entries.some((e: { status: number }) => e.status === 404)).toBe(true);
    expect((await h.call('GET', '/api/v1/admin/audit?from=yesterday')).status).toBe(400);
  });

  it('does not store events of a customer who revoked analytics consent, nor an event that denies it', async () => {
    const anonymousId = crypto.randomUUID();
    const customerId = await identifyCustomer(h, `optout-${crypto.randomUUID()}`, { anonymousId });
    await h.send('track', { anonymousId, event: 'Before' });
    const revoke = await h.call('POST', `/api/v1/cdp/consents/${customerId}`, {
      consentType: 'ANALYTICS_TRACKING',
      granted: false,
    });
    expect(revoke.status).toBeLessThan(300);
    const dropped = h.app.writer.stats.dropped;
    expect((await h.send('track', { anonymousId, event: 'After' })).status).toBe(200);
    const names = (await eventsBy(h, anonymousId)).map((e) => e.eventName);
    expect(names).toContain('Before');
    expect(names).not.toContain('After');
    expect(h.app.writer.stats.dropped).toBe(dropped + 1);

    const stranger = crypto.randomUUID();
    await h.send('track', {
      anonymousId: stranger,
      event: 'Denied',
      context: { consent: { categoryPreferences: { analytics: false } } },
    });
    expect(await eventsBy(h, stranger)).toHaveLength(0);

    // In a batch only the denying event is left out: its neighbours' COPY lines (non-ASCII too) are stored whole.
    const visitor = crypto.randomUUID();
    const denies = { consent: { categoryPreferences: { analytics: false } } };
    const batch = await h.send('batch', {
      batch: [
        { type: 'track', anonymousId: visitor, event: 'Zürich ✓', properties: { city: 'Zürich', tab: 'a\tb' } },
        { type: 'track', anonymousId: stranger, event: 'Denied again', context: denies },
        { type: 'track', anonymousId: visitor, event: 'Kraków 🚀', properties: { note: 'x\\y' } },
      ],
    });
    expect(batch.status).toBe(200);
    const stored = (await eventsBy(h, visitor)).sort((a, b) => a.eventName.localeCompare(b.eventName));
    expect(stored.map((e) => [e.eventName, e.properties])).toEqual([
      ['Kraków 🚀', { note: 'x\\y' }],
      ['Zürich ✓', { city: 'Zürich', tab: 'a\tb' }],
    ]);
    expect(await eventsBy(h, stranger)).toHaveLength(0);
    const metrics = await (await h.call('GET', '/metrics')).text();
    expect(metrics).toMatch(/tributary_events_dropped_total\{reason="consent"\} [2-9]/);
  });

  it('computes nothing about a customer who revoked PROFILING: no scores, no computed traits, no rule segments', async () => {
    const plan = `gated-${crypto.randomUUID()}`;
    const customerId = await identifyCustomer(h, `gated-${crypto.randomUUID()}`, { traits: { plan } });
    const segment = await (
      await h.call('POST', '/api/v1/cdp/segments', {
        name: `gated ${plan}`,
        segmentType: 'DYNAMIC',
        rules: { trait: { key: 'plan', operator: 'equals', value: plan } },
      })
    ).json();
    const members = async () => {
      await h.call('POST', `/api/v1/cdp/segments/${segment.id}/evaluate`);
      const res = await (await h.call('GET', `/api/v1/cdp/segments/${segment.id}/members`)).json();
      return res.members.map((m: { customerId: string }) => m.customerId);
    };
    expect(await members()).toEqual([customerId]);
    expect((await h.call('POST', `/api/v1/cdp/traits/${customerId}/compute-engagement`)).status).toBe(200);

    await h.call('POST', `/api/v1/cdp/consents/${customerId}`, { consentType: 'PROFILING', granted: false });
    expect(await members()).toEqual([]);
    for (const path of [
      'customer360/{id}/compute-engagement',
      'customer360/{id}/compute-ltv',
      'traits/{id}/compute-engagement',
    ]) {
      const res = await h.call('POST', `/api/v1/cdp/${path.replace('{id}', customerId)}`);
      expect(res.status).toBe(409);
      expect((await res.json()).error.code).toBe('consent_revoked');
    }
    const view = await (await h.call('GET', `/api/v1/cdp/customer360/${customerId}`)).json();
    expect(view.engagementScore).toBeNull();
    expect(view.lifetimeValue).toBeNull();
    expect(view.traits.filter((t: { source: string }) => t.source === 'computed')).toEqual([]);
    expect(view.traits.map((t: { traitKey: string }) => t.traitKey)).toContain('plan');

    await h.call('POST', `/api/v1/cdp/consents/${customerId}`, { consentType: 'PROFILING', granted: true });
    expect(await members()).toEqual([customerId]);
  });

  it('deletes every row of a customer in one request and keeps only the record that it happened', async () => {
    const anonymousId = crypto.randomUUID();
    const customerId = await identifyCustomer(h, `gone-${crypto.randomUUID()}`, {
      anonymousId,
      traits: { plan: 'pro' },
    });
    await h.send('track', { anonymousId, event: 'Viewed' });
    await h.call('POST', `/api/v1/cdp/consents/${customerId}`, { consentType: 'MARKETING_EMAIL', granted: true });
    await h.call('POST', `/api/v1/cdp/traits/${customerId}`, {
      traitKey: 't',
      traitValue: 'v',
      traitType: 'PREFERENCE',
    });

    const res = await h.call('POST', '/api/v1/admin/regulations', { regulationType: 'DELETE_ONLY', customerId });
    expect(res.status).toBe(201);
    const regulation = await res.json();
    // The record names the deleted customer by its tombstone (erasure.test.ts), not its ID.
    expect(regulation).toMatchObject({
      status: 'FINISHED',
      customerId: tombstoneOf(h.app.keyring, customerId),
      regulationType: 'DELETE_ONLY',
    });
    expect(regulation.deleted.events).toBeGreaterThanOrEqual(2);
    expect(regulation.deleted.customers).toBe(1);

    const leftovers = await queryRows<{ n: number }>(
      h.database.db,
      sql`select (select count(*) from customer_identities where customer_id = ${customerId})
        + (select count(*) from customer_traits where customer_id = ${customerId})
        + (select count(*) from customer_consents where customer_id = ${customerId})
        + (select count(*) from customer_consent_history where customer_id = ${customerId})
        + (select count(*) from customer_events where anonymous_id = ${anonymousId})
        + (select count(*) from customers where id = ${customerId}) as n`,
    );
    expect(Number(leftovers[0]?.n)).toBe(0);
    expect((await h.call('GET', `/api/v1/admin/regulations/${regulation.id}`)).status).toBe(200);
    expect((await h.call('GET', `/api/v1/cdp/traits/${customerId}`)).status).toBe(404);
  });

  it('suppresses later events across restarts, and unsuppresses them', async () => {
    const anonymousId = crypto.randomUUID();
    const userId = `suppressed-${crypto.randomUUID()}`;
    const customerId = await identifyCustomer(h, userId, { anonymousId });
    const res = await h.call('POST', '/api/v1/admin/regulations', { regulationType: 'SUPPRESS', customerId });
    expect(res.status).toBe(201);

    expect((await h.send('track', { anonymousId, event: 'While suppressed' })).status).toBe(200);
    expect((await h.send('track', { userId, event: 'Server side while suppressed' })).status).toBe(200);
    const stored = () =>
      h.database.db.select().from(customerEvents).where(eq(customerEvents.eventName, 'While suppressed'));
    expect(await stored()).toHaveLength(0);

    // A new process on the same database loads the list.
    const restarted = createApp({
      database: h.database,
      config: testConfig({ WRITE_KEYS: ['wk_test_write_key_24chars'], API_KEYS: [API_KEY] }),
    });
    await restarted.suppressions.reload();
    expect(restarted.suppressions.size).toBeGreaterThanOrEqual(2);

    const un = await h.call('POST', '/api/v1/admin/regulations', {
      regulationType: 'UNSUPPRESS',
      identityType: 'COOKIE_ID',
      identityValue: anonymousId,
    });
    expect(un.status).toBe(201);
    await h.send('track', { anonymousId, event: 'While suppressed' });
    expect(await stored()).toHaveLength(1);
  });

  it('suppresses and deletes by identity', async () => {
    const email = `sw-${crypto.randomUUID()}@example.com`;
    const customerId = await identifyCustomer(h, `sw-${crypto.randomUUID()}`, { traits: { email } });
    const res = await h.call('POST', '/api/v1/admin/regulations', {
      regulationType: 'SUPPRESS_WITH_DELETE',
      identityType: 'EMAIL',
      identityValue: email.toUpperCase(),
    });
    expect(res.status).toBe(201);
    expect((await res.json()).customerId).toBe(tombstoneOf(h.app.keyring, customerId));
    const rows = await h.database.db.select().from(customers).where(eq(customers.id, customerId));
    expect(rows).toHaveLength(0);
  });

  it('refuses a regulation without a subject, naming the field', async () => {
    const res = await h.call('POST', '/api/v1/admin/regulations', { regulationType: 'DELETE_ONLY' });
    expect(res.status).toBe(400);
    expect((await res.json()).error.issues[0].path).toBe('json.customerId');
  });

  it('exports everything held about a customer', async () => {
    const anonymousId = crypto.randomUUID();
    const customerId = await identifyCustomer(h, `export-${crypto.randomUUID()}`, {
      anonymousId,
      traits: { plan: 'gold' },
    });
    await h.send('page', { anonymousId, name: 'Pricing' });
    const res = await h.call('GET', `/api/v1/admin/customers/${customerId}/export`);
    expect(res.status).toBe(200);
    const data = await res.json();
    expect(data.customer.id).toBe(customerId);
    expect(data.identities.map((i: { identityType: string }) => i.identityType).sort()).toEqual([
      'COOKIE_ID',
      'EXTERNAL_ID',
    ]);
    expect(data.traits.find((t: { traitKey: string }) => t.traitKey === 'plan').traitValue).toBe('gold');
    expect(data.events.map((e: { eventName: string }) => e.eventName)).toContain('Pricing');
    expect((await h.call('GET', `/api/v1/admin/customers/${crypto.randomUUID()}/export`)).status).toBe(404);
  });

  it('removes events past their retention in bounded batches, and keeps the rest', async () => {
    const anonymousId = crypto.randomUUID();
    const old = new Date(Date.now() - 60 * 86400_000).toISOString();
    await h.send('batch', {
      batch: [
        ...Array.from({ length: 5 }, () => ({
          type: 'track',
          anonymousId,
          event: 'Old search',
          eventType: 'SEARCH',
          timestamp: old,
        })),
        { type: 'track', anonymousId, event: 'New search', eventType: 'SEARCH' },
        { type: 'page', anonymousId, name: 'Old page', timestamp: old },
      ],
    });
    expect((await h.call('PUT', '/api/v1/admin/retention/SEARCH', { days: 30 })).status).toBe(200);
    expect((await h.call('PUT', '/api/v1/admin/retention/NOPE', { days: 30 })).status).toBe(400);
    const deleted = await runRetention(h.database.db, { batchSize: 2, pauseMs: 0 });
    expect(deleted.SEARCH).toBeGreaterThanOrEqual(5);
    const left = (await eventsBy(h, anonymousId)).map((e) => e.eventName).sort();
    expect(left).toEqual(['New search', 'Old page']);
    expect((await h.call('GET', '/api/v1/admin/retention')).status).toBe(200);
    expect((await h.call('DELETE', '/api/v1/admin/retention/SEARCH')).status).toBe(200);
  });
});

describe.each(testDatabases)('IP_MODE=truncate on $name', (db) => {
  const h = useApp(db, { IP_MODE: 'truncate' });

  it('keeps only the network part of the address', async () => {
    const anonymousId = crypto.randomUUID();
    await h.send('track', { anonymousId, event: 'e', context: { ip: '203.0.113.77' } });
    const [row] = await eventsBy(h, anonymousId);
    expect(row?.ipAddress).toBe('203.0.113.0');
    expect(row?.context).toMatchObject({ ip: '203.0.113.0' });
  });
});
