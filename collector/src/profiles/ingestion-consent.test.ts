import { count, eq } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { identifyCustomer } from '../../test/customers';
import { testDatabases } from '../../test/databases';
import { type Harness, useApp } from '../../test/harness';
import { customerConsentHistory, customerConsents } from '../db/schema';
import { consentFromCategories } from './consent-categories';

describe('consent categories', () => {
  it('maps categories onto the spec types, ignoring case and separators', () => {
    expect(
      Object.fromEntries(
        consentFromCategories({
          Analytics: true,
          marketing: false,
          personalization: true,
          profiling: false,
          'third-party': true,
          Functional: true,
          necessary: true,
          ads: 'yes',
        }),
      ),
    ).toEqual({
      ANALYTICS_TRACKING: true,
      MARKETING_EMAIL: false,
      MARKETING_SMS: false,
      MARKETING_PUSH: false,
      PERSONALIZATION: true,
      PROFILING: false,
      THIRD_PARTY_SHARING: true,
      DATA_PROCESSING: true,
    });
  });

  it('lets a spec type named directly win over its category', () => {
    const consent = consentFromCategories({ MARKETING_SMS: false, marketing: true, advertising: false });
    expect(Object.fromEntries(consent)).toEqual({
      MARKETING_EMAIL: true,
      MARKETING_SMS: false,
      MARKETING_PUSH: true,
      THIRD_PARTY_SHARING: false,
    });
  });
});

const withConsent = (categoryPreferences: Record<string, unknown>) => ({ consent: { categoryPreferences } });

describe.each(testDatabases)('consent from ingestion on $name', (db) => {
  const h = useApp(db);

  async function state(h: Harness, id: string) {
    const res = await h.call('GET', `/api/v1/cdp/consents/${id}`);
    const body = await res.json();
    return Object.fromEntries(
      body.consents
        .filter((c: { status: string }) => c.status !== 'NOT_SET')
        .map((c: { consentType: string; granted: boolean }) => [c.consentType, c.granted]),
    );
  }
  const historyCount = async (id: string) =>
    (
      await h.database.db
        .select({ n: count() })
        .from(customerConsentHistory)
        .where(eq(customerConsentHistory.customerId, id))
    )[0]?.n;

  it('records consent carried by an event of a known customer, once per change', async () => {
    const id = await identifyCustomer(h, 'consent-user', { anonymousId: 'consent-anon' });
    const track = (prefs: Record<string, unknown>, extra: Record<string, unknown> = {}) =>
      h.send('track', {
        userId: 'consent-user',
        event: 'Viewed',
        context: { ...withConsent(prefs), ip: '10.1.2.3' },
        ...extra,
      });

    expect((await track({ analytics: true, marketing: false, necessary: true })).status).toBe(200);
    expect(await state(h, id)).toEqual({
      ANALYTICS_TRACKING: true,
      MARKETING_EMAIL: false,
      MARKETING_SMS: false,
      MARKETING_PUSH: false,
    });
    expect(await historyCount(id)).toBe(4);
    const [entry] = await h.database.db
      .select()
      .from(customerConsentHistory)
      .where(eq(customerConsentHistory.consentType, 'ANALYTICS_TRACKING'));
    expect(entry).toMatchObject({ customerId: id, actor: 'ingestion', source: 'event:track', ipAddress: '10.1.2.3' });

    // The same consent stamped on every event writes nothing more: its flushes need no transaction.
    const { transactions } = h.app.writer.stats;
    for (let i = 0; i < 3; i++) await track({ analytics: true, marketing: false });
    expect(await historyCount(id)).toBe(4);
    expect(h.app.writer.stats.transactions).toBe(transactions);

    await track({ analytics: true, marketing: true });
    expect(await state(h, id)).toMatchObject({ MARKETING_EMAIL: true, MARKETING_SMS: true, ANALYTICS_TRACKING: true });
    expect(await historyCount(id)).toBe(7);
    const history = await h.call('GET', `/api/v1/cdp/consents/${id}/history?consentType=MARKETING_EMAIL`);
    const entries = (await history.json()).history;
    expect(entries[0]).toMatchObject({ granted: true, previousGranted: false, actor: 'ingestion' });
  });

  it('finds the customer through the anonymous ID, and takes the batch context', async () => {
    const id = await identifyCustomer(h, 'consent-batch', { anonymousId: 'consent-batch-anon' });
    const res = await h.send('batch', {
      context: withConsent({ PROFILING: true, personalization: false }),
      batch: [{ type: 'page', anonymousId: 'consent-batch-anon', name: 'Home' }],
    });
    expect(res.status).toBe(200);
    expect(await state(h, id)).toEqual({ PROFILING: true, PERSONALIZATION: false });
  });

  it('records the consent of a visitor who becomes a customer in the same batch', async () => {
    const anonymousId = `consent-new-anon-${crypto.randomUUID()}`;
    const userId = `consent-new-${crypto.randomUUID()}`;
    const res = await h.send('batch', {
      batch: [
        { type: 'page', anonymousId, name: 'Home', context: withConsent({ analytics: true }) },
        { type: 'identify', anonymousId, userId, traits: {}, context: withConsent({ marketing: false }) },
      ],
    });
    expect(res.status).toBe(200);
    const resolved = await h.call(
      'GET',
      `/api/v1/cdp/identity/resolve?identityType=EXTERNAL_ID&identityValue=${userId}`,
    );
    const id = (await resolved.json()).customerId;
    expect(await state(h, id)).toEqual({
      ANALYTICS_TRACKING: true,
      MARKETING_EMAIL: false,
      MARKETING_SMS: false,
      MARKETING_PUSH: false,
    });
  });

  it('records a change carried by anonymous events flush after flush, storing each event once', async () => {
    // Events without identity links open their COPY before knowing whether consent changes; each of
    // these does change it, so each opened COPY is abandoned for a transaction (more than the pool holds).
    const anonymousId = `consent-flip-${crypto.randomUUID()}`;
    const id = await identifyCustomer(h, `consent-flip-user-${crypto.randomUUID()}`, { anonymousId });
    const { transactions } = h.app.writer.stats;
    for (let i = 0; i < 12; i++) {
      const page = { anonymousId, name: `p${i}`, context: withConsent({ marketing: i % 2 === 0 }) };
      expect((await h.send('page', page)).status).toBe(200);
    }
    expect(h.app.writer.stats.transactions - transactions).toBe(12);
    expect(await state(h, id)).toEqual({ MARKETING_EMAIL: false, MARKETING_SMS: false, MARKETING_PUSH: false });
    expect(await historyCount(id)).toBe(36);
    const pages = await h.call('GET', `/api/v1/cdp/events?customerId=${id}&eventType=PAGE_VIEW&limit=100`);
    expect((await pages.json()).events).toHaveLength(12);
  });

  it('writes nothing for visitors who are not customers yet, nor for events without consent', async () => {
    const before = (await h.database.db.select({ n: count() }).from(customerConsents))[0]?.n;
    await h.send('track', { anonymousId: 'stranger', event: 'Viewed', context: withConsent({ analytics: true }) });
    await h.send('track', { userId: 'consent-user', event: 'Viewed', context: { consent: {} } });
    const after = (await h.database.db.select({ n: count() }).from(customerConsents))[0]?.n;
    expect(after).toBe(before);
  });

  it('does not let an event older than the current record undo it', async () => {
    const id = await identifyCustomer(h, 'consent-late');
    await h.call('POST', `/api/v1/cdp/consents/${id}`, { consentType: 'ANALYTICS_TRACKING', granted: false });
    await h.send('track', {
      userId: 'consent-late',
      event: 'Old',
      timestamp: new Date(Date.now() - 86_400_000).toISOString(),
      context: withConsent({ analytics: true }),
    });
    expect(await state(h, id)).toEqual({ ANALYTICS_TRACKING: false });
    await h.send('track', { userId: 'consent-late', event: 'New', context: withConsent({ analytics: true }) });
    expect(await state(h, id)).toEqual({ ANALYTICS_TRACKING: true });
  });
});
