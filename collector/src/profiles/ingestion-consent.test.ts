import { count, eq } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { identifyCustomer } from '../../test/customers';
import { testDatabases } from '../../test/databases';
import { basicAuth, type Harness, useApp } from '../../test/harness';
import { customerConsentHistory, customerConsents } from '../db/schema';
import { userHash } from '../privacy/identity-verification';
import { consentFromCategories } from './consent-categories';
import { applyConsentChanges, type ConsentChange } from './consents-store';

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
    // Revoked by an event: an unsigned event may not grant over a revocation made through the API at all.
    await h.send('track', { userId: 'consent-late', event: 'Revoked', context: withConsent({ analytics: false }) });
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

describe.each(testDatabases)('consent that cannot be forged on $name', (db) => {
  const h = useApp(db);

  async function state(id: string) {
    const body = await (await h.call('GET', `/api/v1/cdp/consents/${id}`)).json();
    return Object.fromEntries(
      body.consents
        .filter((c: { status: string }) => c.status !== 'NOT_SET')
        .map((c: { consentType: string; granted: boolean }) => [c.consentType, c.granted]),
    );
  }
  const history = async (id: string) =>
    (await (await h.call('GET', `/api/v1/cdp/consents/${id}/history?limit=100`)).json()).history as {
      consentType: string;
      granted: boolean;
      source: string;
    }[];
  const setConsent = async (id: string, consentType: string, granted: boolean) =>
    expect((await h.call('POST', `/api/v1/cdp/consents/${id}`, { consentType, granted })).status).toBe(200);
  /** The names of the customer's stored events. */
  const storedEvents = async (id: string) =>
    (
      (await (await h.call('GET', `/api/v1/cdp/events?customerId=${id}&limit=100`)).json()).events as {
        eventName: string;
      }[]
    ).map((e) => e.eventName);
  const resolve = async (userId: string) =>
    (
      await (
        await h.call('GET', `/api/v1/cdp/identity/resolve?identityType=EXTERNAL_ID&identityValue=${userId}`)
      ).json()
    ).customerId as string;

  describe('with identity verification on for the key', () => {
    let key: { secret: string; verificationSecret: string };
    const send = (path: string, body: Record<string, unknown>) =>
      h.call('POST', `/v1/${path}`, body, basicAuth(key.secret));
    const sign = (userId: string) => userHash(key.verificationSecret, userId);

    /** A customer identified the way a site with verification does it: a signed identify from the browser. */
    async function victim() {
      key ??= await (await h.call('POST', '/api/v1/admin/keys', { kind: 'write', identityVerification: true })).json();
      const userId = `victim-${crypto.randomUUID()}`;
      const anonymousId = `victim-anon-${crypto.randomUUID()}`;
      const res = await send('identify', { userId, anonymousId, traits: {}, context: { userHash: sign(userId) } });
      expect(res.status).toBe(200);
      return { userId, anonymousId, id: await resolve(userId) };
    }

    it('lets no unsigned event grant consent for the userId it names over a revocation', async () => {
      const v = await victim();
      await setConsent(v.id, 'MARKETING_EMAIL', false);
      for (const hash of [undefined, userHash('vs_not_the_secret', v.userId), 'junk']) {
        const res = await send('track', {
          userId: v.userId,
          anonymousId: `attacker-${crypto.randomUUID()}`,
          event: 'Forged',
          context: { ...withConsent({ marketing: true }), ...(hash ? { userHash: hash } : {}) },
        });
        expect(res.status).toBe(200);
      }
      expect(await state(v.id)).toEqual({ MARKETING_EMAIL: false });
      expect(await history(v.id)).toHaveLength(1);
    });

    it('lets no unsigned event revoke analytics for the userId it names, so the real events are kept', async () => {
      const v = await victim();
      const forged = await send('track', {
        userId: v.userId,
        event: 'Forged denial',
        context: withConsent({ analytics: false, marketing: false }),
      });
      expect(forged.status).toBe(200);
      expect(await state(v.id)).toEqual({});
      expect(await history(v.id)).toHaveLength(0);
      // The victim's browser, as the SDK sends after a signed identify: userId and anonymous ID, no signature.
      await send('track', { userId: v.userId, anonymousId: v.anonymousId, event: 'Real', context: {} });
      const stored = await storedEvents(v.id);
      expect(stored).toContain('Real');
      // The forged event's own denial still keeps that one event out.
      expect(stored).not.toContain('Forged denial');
    });

    it('still lets a signed event change consent, over a revocation made through the API too', async () => {
      const v = await victim();
      await setConsent(v.id, 'MARKETING_EMAIL', false);
      const signed = (prefs: Record<string, unknown>) =>
        send('track', {
          userId: v.userId,
          event: 'Signed',
          context: { ...withConsent(prefs), userHash: sign(v.userId) },
        });
      expect((await signed({ MARKETING_EMAIL: true })).status).toBe(200);
      expect(await state(v.id)).toEqual({ MARKETING_EMAIL: true });
      expect((await signed({ analytics: false })).status).toBe(200);
      expect(await state(v.id)).toEqual({ MARKETING_EMAIL: true, ANALYTICS_TRACKING: false });
      const last = (await history(v.id))[0];
      expect(last).toMatchObject({ consentType: 'ANALYTICS_TRACKING', granted: false, source: 'event:track' });
    });

    it("records the consent of the customer's own browser through its anonymous ID, never over the API", async () => {
      const v = await victim();
      const fromBrowser = (prefs: Record<string, unknown>) =>
        send('track', { userId: v.userId, anonymousId: v.anonymousId, event: 'Consent', context: withConsent(prefs) });
      // A visitor who revokes in the browser and later opts in again, all unsigned.
      await fromBrowser({ marketing: false });
      expect(await state(v.id)).toEqual({ MARKETING_EMAIL: false, MARKETING_SMS: false, MARKETING_PUSH: false });
      await fromBrowser({ marketing: true });
      expect(await state(v.id)).toEqual({ MARKETING_EMAIL: true, MARKETING_SMS: true, MARKETING_PUSH: true });
      // A revocation made through the API stands against the stamp the browser keeps sending.
      await setConsent(v.id, 'MARKETING_EMAIL', false);
      await fromBrowser({ marketing: true });
      expect(await state(v.id)).toEqual({ MARKETING_EMAIL: false, MARKETING_SMS: true, MARKETING_PUSH: true });
    });

    it('takes a signed and an unsigned stamp of the same consent in one batch as signed', async () => {
      const v = await victim();
      await setConsent(v.id, 'MARKETING_EMAIL', false);
      const context = withConsent({ MARKETING_EMAIL: true });
      const res = await send('batch', {
        batch: [
          {
            type: 'identify',
            userId: v.userId,
            anonymousId: v.anonymousId,
            context: { ...context, userHash: sign(v.userId) },
          },
          { type: 'page', userId: v.userId, anonymousId: v.anonymousId, name: 'Home', context },
        ],
      });
      expect(res.status).toBe(200);
      expect(await state(v.id)).toEqual({ MARKETING_EMAIL: true });
    });
  });

  it('checks again under the lock, so an API revocation made after the flush read stands', async () => {
    const id = await identifyCustomer(h, `lock-${crypto.randomUUID()}`);
    await setConsent(id, 'MARKETING_SMS', false);
    const change = (trusted: boolean): ConsentChange => ({
      customerId: id,
      consentType: 'MARKETING_SMS',
      granted: true,
      source: 'event:track',
      ipAddress: null,
      expiresAt: null,
      metadata: null,
      actor: 'ingestion',
      trusted,
      at: new Date(),
    });
    for (const onlyIfChanged of [true, false]) {
      const applied = await h.database.db.transaction((tx) =>
        applyConsentChanges(tx, [change(false)], { onlyIfChanged }),
      );
      expect(applied).toEqual([]);
    }
    expect(await state(id)).toEqual({ MARKETING_SMS: false });
    await h.database.db.transaction((tx) => applyConsentChanges(tx, [change(true)], { onlyIfChanged: true }));
    expect(await state(id)).toEqual({ MARKETING_SMS: true });
  });

  describe('without identity verification', () => {
    it('lets no stamp grant over a revocation made through the API, and grants where nothing is recorded', async () => {
      const userId = `unverified-${crypto.randomUUID()}`;
      const anonymousId = `unverified-anon-${crypto.randomUUID()}`;
      const id = await identifyCustomer(h, userId, { anonymousId });
      await setConsent(id, 'MARKETING_EMAIL', false);
      expect(
        (await h.send('track', { userId, event: 'Forged', context: withConsent({ marketing: true }) })).status,
      ).toBe(200);
      // Nor through the customer's anonymous ID: the stamp a browser keeps sending predates the revocation.
      await h.send('page', { anonymousId, name: 'Home', context: withConsent({ MARKETING_EMAIL: true }) });
      expect(await state(id)).toEqual({ MARKETING_EMAIL: false, MARKETING_SMS: true, MARKETING_PUSH: true });
      expect((await history(id)).map((e) => e.consentType).sort()).toEqual([
        'MARKETING_EMAIL',
        'MARKETING_PUSH',
        'MARKETING_SMS',
      ]);
    });

    it('records a denial and drops its event, and lets a later stamp undo a revocation an event made', async () => {
      const userId = `unverified-deny-${crypto.randomUUID()}`;
      const id = await identifyCustomer(h, userId);
      await setConsent(id, 'ANALYTICS_TRACKING', true);
      await h.send('track', { userId, event: 'Denied', context: withConsent({ analytics: false }) });
      expect(await state(id)).toEqual({ ANALYTICS_TRACKING: false });
      expect((await history(id))[0]).toMatchObject({ granted: false, source: 'event:track' });
      expect(await storedEvents(id)).not.toContain('Denied');
      // The visitor who revoked in the browser opts in again there.
      await h.send('track', { userId, event: 'Opted in', context: withConsent({ analytics: true }) });
      expect(await state(id)).toEqual({ ANALYTICS_TRACKING: true });
      await h.send('track', { userId, event: 'Later', context: {} });
      expect(await storedEvents(id)).toContain('Later');
    });
  });
});
