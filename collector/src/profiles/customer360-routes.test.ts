import { sql } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { testDatabases } from '../../test/databases';
import { type Json, useApp, WRITE_KEY } from '../../test/harness';
import { addEvent, daysAgo, newCustomer } from '../../test/profile-fixtures';
import { customerConsents, customerProfiles, customers, customerTraits } from '../db/schema';
import { mergeCustomers } from '../identity/merge-customers';

const missing = '00000000-0000-4000-8000-000000000000';

describe.each(testDatabases)('Customer 360 on $name', (db) => {
  const h = useApp(db);
  const get360 = async (id: string) => {
    const res = await h.call('GET', `/api/v1/cdp/customer360/${id}`);
    return { status: res.status, body: (await res.json()) as Json };
  };

  it('answers 404 for an unknown customer, 400 naming a bad ID, 401 without and 403 with a write key', async () => {
    expect((await get360(missing)).status).toBe(404);
    const bad = await get360('nope');
    expect(bad.status).toBe(400);
    expect(bad.body.error.issues[0].path).toBe('param.customerId');
    for (const path of ['compute-engagement', 'compute-ltv']) {
      expect((await h.call('POST', `/api/v1/cdp/customer360/${missing}/${path}`)).status).toBe(404);
      expect((await h.call('POST', `/api/v1/cdp/customer360/nope/${path}`)).status).toBe(400);
    }
    expect((await h.call('POST', `/api/v1/cdp/traits/${missing}/compute-engagement`)).status).toBe(404);
    expect((await h.call('GET', `/api/v1/cdp/customer360/${missing}`, undefined, null)).status).toBe(401);
    expect((await h.call('GET', `/api/v1/cdp/customer360/${missing}`, undefined, `Bearer ${WRITE_KEY}`)).status).toBe(
      403,
    );
  });

  it('assembles every section in the spec shape, with current traits and consents only', async () => {
    const c = await newCustomer(h, { email: 'ada@example.com', firstName: 'Ada' });
    const { db: d } = h.database;
    await d.insert(customerProfiles).values({ customerId: c.id, preferredContact: 'email' }).onConflictDoNothing();
    await d.insert(customerTraits).values([
      { customerId: c.id, traitKey: 'plan', traitValue: 'gold', traitType: 'PREFERENCE' },
      { customerId: c.id, traitKey: 'old_offer', traitValue: 1, traitType: 'BEHAVIORAL', expiresAt: daysAgo(1) },
    ]);
    await d.insert(customerConsents).values([
      { customerId: c.id, consentType: 'MARKETING_EMAIL', granted: true, grantedAt: daysAgo(2) },
      { customerId: c.id, consentType: 'MARKETING_SMS', granted: true, grantedAt: daysAgo(40), expiresAt: daysAgo(1) },
      { customerId: c.id, consentType: 'THIRD_PARTY_SHARING', granted: false, revokedAt: daysAgo(3) },
    ]);
    const who = { anonymousId: c.anonymousId };
    const visit = await addEvent(h, who, { type: 'PAGE_VIEW', name: 'Home', at: daysAgo(30) });
    const quote = await addEvent(h, who, { type: 'QUOTE_REQUEST', name: 'Quote Requested', at: daysAgo(20) });
    const purchase = await addEvent(h, who, {
      type: 'PURCHASE',
      name: 'Order Completed',
      at: daysAgo(10),
      properties: { revenue: 120 },
    });
    const claim = await addEvent(h, who, { type: 'CLAIM_SUBMIT', name: 'Claim', at: daysAgo(1) });

    const { status, body } = await get360(c.id);
    expect(status).toBe(200);
    expect(Object.keys(body)).toEqual(
      expect.arrayContaining([
        'customer',
        'profile',
        'identities',
        'traits',
        'segments',
        'consents',
        'engagementScore',
        'lifetimeValue',
        'recentEvents',
        'journeySteps',
      ]),
    );
    expect(body.customer).toMatchObject({ id: c.id, email: 'ada@example.com' });
    expect(body.mergedFrom).toBeUndefined();
    expect(body.profile.preferredContact).toBe('email');
    expect(body.identities.map((i: Json) => i.identityType)).toEqual(
      expect.arrayContaining(['EXTERNAL_ID', 'COOKIE_ID', 'EMAIL']),
    );
    const traitKeys = body.traits.map((t: Json) => t.traitKey);
    expect(traitKeys).toContain('plan');
    expect(traitKeys).not.toContain('old_offer');
    const consent = (type: string) => body.consents.find((k: Json) => k.consentType === type);
    expect(consent('MARKETING_EMAIL')).toMatchObject({ granted: true, status: 'GRANTED' });
    expect(consent('MARKETING_SMS')).toMatchObject({ granted: false, status: 'EXPIRED' });
    expect(consent('THIRD_PARTY_SHARING')).toMatchObject({ granted: false, status: 'REVOKED' });

    // Newest first; the identify call made by newCustomer is an event too.
    const stamps = body.recentEvents.map((e: Json) => Date.parse(e.timestamp));
    expect([...stamps].sort((a, b) => b - a)).toEqual(stamps);
    expect(body.recentEvents.map((e: Json) => e.messageId)).toEqual(
      expect.arrayContaining([visit.messageId, quote.messageId, purchase.messageId, claim.messageId]),
    );
    // Scores and lifetime value were computed on this read, from the events.
    expect(body.engagementScore.portalScore).toBeGreaterThan(0);
    expect(body.engagementScore.recencyScore).toBeGreaterThan(90);
    expect(body.lifetimeValue).toMatchObject({ currentValue: 120, totalPurchases: 1 });

    const step = (type: string) => body.journeySteps.filter((s: Json) => s.stepType === type);
    expect(step('FIRST_VISIT')[0]).toMatchObject({ eventMessageId: visit.messageId, eventId: String(visit.id) });
    expect(step('QUOTE_REQUESTED')[0].eventMessageId).toBe(quote.messageId);
    expect(step('PURCHASE')[0].eventMessageId).toBe(purchase.messageId);
    expect(step('CLAIM_SUBMITTED')[0].eventMessageId).toBe(claim.messageId);
    const times = body.journeySteps.map((s: Json) => Date.parse(s.occurredAt));
    expect([...times].sort((a, b) => a - b)).toEqual(times);
  });

  it('keeps scores, lifetime value and journey fresh: a new event makes the next read recompute', async () => {
    const c = await newCustomer(h);
    await addEvent(h, { anonymousId: c.anonymousId }, { type: 'PAGE_VIEW', at: daysAgo(60) });
    const first = (await get360(c.id)).body;
    expect(first.lifetimeValue.totalPurchases).toBe(0);
    const again = (await get360(c.id)).body;
    // Nothing new: the stored figures are served as they were.
    expect(again.engagementScore.computedAt).toBe(first.engagementScore.computedAt);

    const bought = await addEvent(h, { customerId: c.id }, { type: 'PURCHASE', properties: { total: 40 } });
    const after = (await get360(c.id)).body;
    expect(Date.parse(after.engagementScore.computedAt)).toBeGreaterThan(Date.parse(first.engagementScore.computedAt));
    expect(after.engagementScore.recencyScore).toBeGreaterThan(first.engagementScore.recencyScore);
    expect(after.lifetimeValue).toMatchObject({ currentValue: 40, totalPurchases: 1 });
    expect(after.journeySteps.some((s: Json) => s.eventMessageId === bought.messageId)).toBe(true);
  });

  it('answers for a merged-away customer with the customer it became, and says so', async () => {
    const source = await newCustomer(h);
    const target = await newCustomer(h);
    await h.database.db.transaction((tx) => mergeCustomers(tx, source.id, target.id, 'merge', 'test'));
    const { status, body } = await get360(source.id);
    expect(status).toBe(200);
    expect(body.customer.id).toBe(target.id);
    expect(body.mergedFrom).toBe(source.id);
    // The source's identities now belong to the target.
    expect(body.identities.map((i: Json) => i.identityValue)).toContain(source.userId);
  });

  it('computes the engagement score by the documented formula', async () => {
    const c = await newCustomer(h);
    // The identify call of newCustomer does not count; one page view 3 days ago, one login 3 days ago.
    await addEvent(h, { customerId: c.id }, { type: 'PAGE_VIEW', at: daysAgo(3) });
    await addEvent(h, { customerId: c.id }, { type: 'LOGIN', at: daysAgo(3) });
    await addEvent(
      h,
      { customerId: c.id },
      { type: 'PURCHASE', at: daysAgo(3), properties: { price: 33, quantity: 3 } },
    );
    const res = await h.call('POST', `/api/v1/cdp/customer360/${c.id}/compute-engagement`);
    expect(res.status).toBe(200);
    const { engagementScore: s } = (await res.json()) as Json;
    const w = 2 ** (-3 / 30); // each event's weight at 3 days old
    const recency = 100 * w;
    const frequency = 100 * (1 - Math.exp(-1 / 10)); // one active day
    const monetary = 25 * Math.log10(1 + 99);
    const web = 100 * (1 - Math.exp(-(2 * w) / 10)); // page view + purchase
    const portal = 100 * (1 - Math.exp(-w / 5)); // login
    expect(s.recencyScore).toBeCloseTo(recency, 1);
    expect(s.frequencyScore).toBeCloseTo(frequency, 1);
    expect(s.monetaryScore).toBeCloseTo(monetary, 1);
    expect(s.webScore).toBeCloseTo(web, 1);
    expect(s.portalScore).toBeCloseTo(portal, 1);
    expect(s.emailScore).toBe(0);
    expect(s.overallScore).toBeCloseTo(
      0.25 * recency + 0.25 * frequency + 0.15 * monetary + 0.35 * Math.max(web, portal),
      1,
    );
  });

  it('counts email engagement from MESSAGE_READ and campaign medium email', async () => {
    const c = await newCustomer(h);
    await addEvent(h, { customerId: c.id }, { type: 'MESSAGE_READ', at: daysAgo(0) });
    await addEvent(
      h,
      { customerId: c.id },
      { type: 'PAGE_VIEW', at: daysAgo(0), context: { campaign: { medium: 'Email' } } },
    );
    const res = await h.call('POST', `/api/v1/cdp/customer360/${c.id}/compute-engagement`);
    const { engagementScore: s } = (await res.json()) as Json;
    expect(s.emailScore).toBeCloseTo(100 * (1 - Math.exp(-2 / 3)), 0);
    expect(s.webScore).toBe(0);
  });

  it('computes lifetime value from PURCHASE amounts with BG/NBD + Gamma-Gamma', async () => {
    const c = await newCustomer(h);
    const who = { customerId: c.id };
    await addEvent(h, who, { type: 'PAGE_VIEW', at: daysAgo(300) });
    await addEvent(h, who, { type: 'PURCHASE', at: daysAgo(240), properties: { revenue: 100 } });
    await addEvent(h, who, { type: 'PURCHASE', at: daysAgo(180), properties: { value: '50' } });
    await addEvent(h, who, { type: 'PURCHASE', at: daysAgo(120), properties: { total: 25 } });
    await addEvent(h, who, { type: 'PURCHASE', at: daysAgo(60), properties: { price: 10, quantity: 3 } });
    await addEvent(h, who, { type: 'PURCHASE', at: daysAgo(30), properties: { note: 'no amount' } });
    const res = await h.call('POST', `/api/v1/cdp/customer360/${c.id}/compute-ltv`);
    expect(res.status).toBe(200);
    const { lifetimeValue: v } = (await res.json()) as Json;
    expect(v.currentValue).toBe(205);
    expect(v.totalPurchases).toBe(5);
    expect(v.averagePurchaseValue).toBe(41);
    expect(v.customerTenure).toBe(300);
    expect(v.purchaseFrequency).toBeCloseTo(5 / (300 / (365.25 / 12)), 3);
    expect(v.predictedValue).toBeGreaterThan(v.currentValue);
    expect(v.churnProbability).toBeGreaterThan(0);
    expect(v.churnProbability).toBeLessThan(1);
    expect(v.model.customer).toMatchObject({ x: 4 });
    expect(v.model.customer.tx).toBeCloseTo(210 / 7, 1);
    expect(v.model.customer.T).toBeCloseTo(240 / 7, 1);
    expect(v.model.bgNbd.source).toBe('prior');
    // A customer who stopped buying long ago is more likely gone than one who buys as usual.
    const lapsed = await newCustomer(h);
    for (const d of [700, 650, 600, 550])
      await addEvent(h, { customerId: lapsed.id }, { type: 'PURCHASE', at: daysAgo(d), properties: { revenue: 50 } });
    const lapsedValue = (
      (await (await h.call('POST', `/api/v1/cdp/customer360/${lapsed.id}/compute-ltv`)).json()) as Json
    ).lifetimeValue;
    expect(lapsedValue.churnProbability).toBeGreaterThan(v.churnProbability);
  });

  it('fits the model on the population once there are enough buyers', async () => {
    // 60 buyers with different histories, written in one statement.
    await h.database.db.execute(sql`
      with buyers as (select g, gen_random_uuid() as id from generate_series(1, 60) g),
      made as (insert into customers (id) select id from buyers returning id)
      insert into customer_events (message_id, customer_id, call_type, event_type, event_name, properties, timestamp, received_at)
      select 'fit-' || b.g || '-' || k, b.id, 'track', 'PURCHASE', 'Order Completed',
        jsonb_build_object('revenue', 20 + (b.g % 7) * 10 + k), now() - make_interval(days => (b.g * 5 + k * (3 + b.g % 11))), now()
      from buyers b, generate_series(0, b.g % 5) k`);
    h.app.models.invalidate();
    const c = await newCustomer(h);
    await addEvent(h, { customerId: c.id }, { type: 'PURCHASE', at: daysAgo(10), properties: { revenue: 10 } });
    const { lifetimeValue: v } = (await (
      await h.call('POST', `/api/v1/cdp/customer360/${c.id}/compute-ltv`)
    ).json()) as Json;
    expect(v.model.bgNbd.source).toBe('fit');
    expect(v.model.gammaGamma.source).toBe('fit');
    expect(v.model.population.buyers).toBeGreaterThanOrEqual(60);
    expect(v.model.bgNbd.r).not.toBe(0.243);
    h.app.models.invalidate();
  });

  it('writes computed ENGAGEMENT traits from the engagement score', async () => {
    const c = await newCustomer(h);
    await addEvent(h, { customerId: c.id }, { type: 'LOGIN', at: daysAgo(2) });
    await h.database.db.insert(customerTraits).values({
      customerId: c.id,
      traitKey: 'engagement_level',
      traitValue: 'stale',
      traitType: 'ENGAGEMENT',
      source: 'manual',
    });
    const res = await h.call('POST', `/api/v1/cdp/traits/${c.id}/compute-engagement`);
    expect(res.status).toBe(200);
    const body = (await res.json()) as Json;
    const trait = (key: string) => body.traits.find((t: Json) => t.traitKey === key);
    expect(trait('engagement_score').traitValue).toBe(body.engagementScore.overallScore);
    expect(trait('engagement_level').traitValue).toBe(body.engagementScore.overallScore >= 15 ? 'low' : 'dormant');
    expect(trait('preferred_channel').traitValue).toBe('portal');
    expect(Date.parse(trait('last_active_at').traitValue)).toBeCloseTo(daysAgo(2).getTime(), -4);
    for (const t of body.traits) {
      expect(t).toMatchObject({ traitType: 'ENGAGEMENT', source: 'computed' });
      expect(t.computedAt).toBeTruthy();
    }
    const view = (await get360(c.id)).body;
    expect(view.traits.find((t: Json) => t.traitKey === 'engagement_level').source).toBe('computed');
    const [row] = await h.database.db.select().from(customers).where(sql`id = ${c.id}`);
    expect(row?.id).toBe(c.id);
  });
});
