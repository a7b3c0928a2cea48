import { describe, expect, it } from 'vitest';
import { testDatabases } from '../../test/databases';
import { type Json, useApp } from '../../test/harness';
import { addEvent, daysAgo, newCustomer, unique } from '../../test/profile-fixtures';
import { customerConsents } from '../db/schema';
import { rfmCell } from './rfm';

const missing = '00000000-0000-4000-8000-000000000000';

describe('RFM cells', () => {
  it('names the cells of the R × FM grid', () => {
    expect(rfmCell(5, 5, 5)).toBe('champions');
    expect(rfmCell(4, 4, 3)).toBe('champions');
    expect(rfmCell(3, 4, 4)).toBe('loyal');
    expect(rfmCell(5, 2, 2)).toBe('potential_loyalists');
    expect(rfmCell(5, 1, 1)).toBe('new_customers');
    expect(rfmCell(4, 1, 1)).toBe('promising');
    expect(rfmCell(3, 2, 2)).toBe('need_attention');
    expect(rfmCell(3, 1, 1)).toBe('about_to_sleep');
    expect(rfmCell(2, 3, 4)).toBe('at_risk');
    expect(rfmCell(1, 5, 5)).toBe('cant_lose_them');
    expect(rfmCell(2, 1, 2)).toBe('hibernating');
    expect(rfmCell(1, 1, 1)).toBe('lost');
  });
});

describe.each(testDatabases)('segments API on $name', (db) => {
  const h = useApp(db);
  const create = async (body: Json) => {
    const res = await h.call('POST', '/api/v1/cdp/segments', body);
    return { status: res.status, body: (await res.json()) as Json };
  };
  const members = async (segmentId: string, query = '') =>
    (await (await h.call('GET', `/api/v1/cdp/segments/${segmentId}/members${query}`)).json()) as Json;
  const memberIds = async (segmentId: string) =>
    (await members(segmentId, '?limit=500')).members.map((m: Json) => m.customerId);
  const settle = () => h.app.writer.idle().then(() => h.app.refresher.idle());

  it('creates, lists, reads, updates and deletes segments', async () => {
    const name = unique('gold');
    const made = await create({
      name,
      segmentType: 'DYNAMIC',
      rules: { trait: { key: 'plan', operator: 'equals', value: 'gold' } },
    });
    expect(made.status).toBe(201);
    expect(made.body).toMatchObject({ name, segmentType: 'DYNAMIC', isActive: true, memberCount: 0 });
    const id = made.body.id;
    expect((await create({ name, segmentType: 'STATIC' })).status).toBe(409);

    const one = await h.call('GET', `/api/v1/cdp/segments/${id}`);
    expect(((await one.json()) as Json).rules.trait.key).toBe('plan');
    const page = (await (await h.call('GET', '/api/v1/cdp/segments?limit=1&page=1')).json()) as Json;
    expect(page.segments).toHaveLength(1);
    expect(page.pagination).toMatchObject({ page: 1, limit: 1 });
    expect(page.pagination.total).toBeGreaterThanOrEqual(1);
    const dynamic = (await (await h.call('GET', '/api/v1/cdp/segments?segmentType=DYNAMIC&limit=500')).json()) as Json;
    expect(dynamic.segments.map((s: Json) => s.id)).toContain(id);

    const patched = await h.call('PATCH', `/api/v1/cdp/segments/${id}`, { description: 'Gold plan', isActive: false });
    expect((await patched.json()) as Json).toMatchObject({ description: 'Gold plan', isActive: false });
    expect((await h.call('DELETE', `/api/v1/cdp/segments/${id}`)).status).toBe(200);
    expect((await h.call('GET', `/api/v1/cdp/segments/${id}`)).status).toBe(404);
    expect((await h.call('DELETE', `/api/v1/cdp/segments/${id}`)).status).toBe(404);
    expect((await h.call('GET', `/api/v1/cdp/segments/${missing}/members`)).status).toBe(404);
  });

  it.each([
    [
      {
        segmentType: 'DYNAMIC',
        rules: {
          and: [{ trait: { key: 'a', operator: 'exists' } }, { trait: { key: 'b', operator: 'like', value: 1 } }],
        },
      },
      'json.rules.and.1.trait.operator',
    ],
    [{ segmentType: 'DYNAMIC', rules: { trait: { key: 'a', operator: 'in', value: 'x' } } }, 'json.rules.trait.value'],
    [{ segmentType: 'DYNAMIC', rules: { or: [{ event: { withinDays: 3 } }] } }, 'json.rules.or.0.event.eventType'],
    [
      { segmentType: 'DYNAMIC', rules: { not: { score: { dimension: 'mood', operator: 'gt', value: 1 } } } },
      'json.rules.not.score.dimension',
    ],
    [{ segmentType: 'DYNAMIC', rules: { consent: { consentType: 'MARKETING_EMAIL' } } }, 'json.rules.consent.granted'],
    [
      {
        segmentType: 'DYNAMIC',
        rules: { trait: { key: 'a', operator: 'exists' }, consent: { consentType: 'MARKETING_EMAIL', granted: true } },
      },
      'json.rules',
    ],
    [{ segmentType: 'DYNAMIC' }, 'json.rules'],
    [{ segmentType: 'STATIC', rules: { trait: { key: 'a', operator: 'exists' } } }, 'json.rules'],
    [{ segmentType: 'BEHAVIORAL', rules: { and: [{ rfm: { cells: ['champions'] } }] } }, 'json.rules.rfm'],
    [{ segmentType: 'RFM', rules: { rfm: { cells: ['best'] } } }, 'json.rules.rfm.cells.0'],
    [{ segmentType: 'NOPE' }, 'json.segmentType'],
    [{ segmentType: 'STATIC', name: '' }, 'json.name'],
  ])('refuses an invalid segment with a 400 naming %j', async (body, path) => {
    const res = await create({ name: unique('bad'), ...body });
    expect(res.status).toBe(400);
    expect(res.body.error.issues.map((i: Json) => i.path)).toContain(path);
  });

  it('holds STATIC members added and removed by hand, with their marketing consents', async () => {
    const seg = (await create({ name: unique('vip'), segmentType: 'STATIC' })).body;
    const a = await newCustomer(h);
    const b = await newCustomer(h);
    await h.database.db.insert(customerConsents).values([
      { customerId: a.id, consentType: 'MARKETING_EMAIL', granted: true },
      { customerId: a.id, consentType: 'MARKETING_SMS', granted: true, expiresAt: daysAgo(1) },
      { customerId: b.id, consentType: 'MARKETING_EMAIL', granted: false },
    ]);
    for (const c of [a, b]) {
      const res = await h.call('POST', `/api/v1/cdp/segments/${seg.id}/members/${c.id}`);
      expect(((await res.json()) as Json).added).toBe(true);
    }
    expect(
      ((await (await h.call('POST', `/api/v1/cdp/segments/${seg.id}/members/${a.id}`)).json()) as Json).added,
    ).toBe(false);
    expect((await h.call('POST', `/api/v1/cdp/segments/${seg.id}/members/${missing}`)).status).toBe(404);
    const list = await members(seg.id);
    expect(list.pagination.total).toBe(2);
    const ofA = list.members.find((m: Json) => m.customerId === a.id);
    expect(ofA.consents).toEqual({ MARKETING_EMAIL: true, MARKETING_SMS: false, MARKETING_PUSH: false });
    const emailable = await members(seg.id, '?consent=MARKETING_EMAIL');
    expect(emailable.members.map((m: Json) => m.customerId)).toEqual([a.id]);
    expect((await h.call('GET', `/api/v1/cdp/segments/${seg.id}/members?consent=PROFILING`)).status).toBe(400);
    expect(((await (await h.call('GET', `/api/v1/cdp/segments/${seg.id}`)).json()) as Json).memberCount).toBe(2);

    const removed = await h.call('DELETE', `/api/v1/cdp/segments/${seg.id}/members/${b.id}`);
    expect(((await removed.json()) as Json).removed).toBe(true);
    expect(await memberIds(seg.id)).toEqual([a.id]);
    expect((await h.call('POST', `/api/v1/cdp/segments/${seg.id}/evaluate`)).status).toBe(409);

    const dynamic = (
      await create({ name: unique('dyn'), segmentType: 'DYNAMIC', rules: { trait: { key: 'x', operator: 'exists' } } })
    ).body;
    expect((await h.call('POST', `/api/v1/cdp/segments/${dynamic.id}/members/${a.id}`)).status).toBe(409);
  });

  it('follows trait changes: a customer joins and leaves as the trait API changes their data', async () => {
    const seg = (
      await create({
        name: unique('gold'),
        segmentType: 'DYNAMIC',
        rules: { trait: { key: 'plan', operator: 'in', value: ['gold', 'platinum'] } },
      })
    ).body;
    const c = await newCustomer(h);
    const setPlan = (value: string) =>
      h.call('POST', `/api/v1/cdp/traits/${c.id}`, { traitKey: 'plan', traitValue: value, traitType: 'PREFERENCE' });
    expect((await setPlan('gold')).status).toBeLessThan(300);
    await settle();
    expect(await memberIds(seg.id)).toContain(c.id);
    await setPlan('silver');
    await settle();
    expect(await memberIds(seg.id)).not.toContain(c.id);
  });

  it('follows ingestion: event conditions with counts, windows and property filters', async () => {
    const seg = (
      await create({
        name: unique('buyers'),
        segmentType: 'BEHAVIORAL',
        rules: {
          and: [
            { event: { eventType: 'PURCHASE', count: { operator: 'gte', value: 2 }, withinDays: 30 } },
            {
              event: {
                eventName: 'Quote Requested',
                properties: [{ key: 'insurance.type', operator: 'equals', value: 'auto' }],
              },
            },
          ],
        },
      })
    ).body;
    const c = await newCustomer(h);
    const track = (body: Json) => h.send('track', { userId: c.userId, ...body });
    await track({ event: 'Quote Requested', eventType: 'QUOTE_REQUEST', properties: { insurance: { type: 'auto' } } });
    await track({ event: 'Order Completed', properties: { revenue: 10 } });
    await settle();
    expect(await memberIds(seg.id)).not.toContain(c.id);
    await track({ event: 'Order Completed', properties: { revenue: 12 } });
    await settle();
    expect(await memberIds(seg.id)).toContain(c.id);

    // An old purchase does not count within 30 days; another customer with home quotes is not in.
    const other = await newCustomer(h);
    await addEvent(h, { anonymousId: other.anonymousId }, { type: 'PURCHASE', at: daysAgo(60) });
    await addEvent(h, { anonymousId: other.anonymousId }, { type: 'PURCHASE', at: daysAgo(1) });
    await addEvent(
      h,
      { anonymousId: other.anonymousId },
      { type: 'QUOTE_REQUEST', name: 'Quote Requested', properties: { insurance: { type: 'home' } } },
    );
    const evaluated = (await (await h.call('POST', `/api/v1/cdp/segments/${seg.id}/evaluate`)).json()) as Json;
    expect(evaluated).toMatchObject({ segmentId: seg.id, memberCount: 1 });
    expect(await memberIds(seg.id)).toEqual([c.id]);
  });

  it('evaluates consent, score, lifetime value and churn conditions with and / or / not', async () => {
    const a = await newCustomer(h);
    const b = await newCustomer(h);
    await h.database.db.insert(customerConsents).values([
      { customerId: a.id, consentType: 'MARKETING_EMAIL', granted: true },
      { customerId: b.id, consentType: 'MARKETING_EMAIL', granted: true, expiresAt: daysAgo(1) },
    ]);
    await addEvent(h, { customerId: a.id }, { type: 'PURCHASE', at: daysAgo(1), properties: { revenue: 500 } });
    for (const c of [a, b]) {
      await h.call('POST', `/api/v1/cdp/customer360/${c.id}/compute-engagement`);
      await h.call('POST', `/api/v1/cdp/customer360/${c.id}/compute-ltv`);
    }
    const emailable = (
      await create({
        name: unique('mail'),
        segmentType: 'DYNAMIC',
        rules: { consent: { consentType: 'MARKETING_EMAIL', granted: true } },
      })
    ).body;
    const unreachable = (
      await create({
        name: unique('nomail'),
        segmentType: 'DYNAMIC',
        rules: {
          and: [
            { consent: { consentType: 'MARKETING_EMAIL', granted: false } },
            { trait: { key: 'never', operator: 'exists' } },
          ],
        },
      })
    ).body;
    const valuable = (
      await create({
        name: unique('valuable'),
        segmentType: 'PREDICTIVE',
        rules: {
          or: [
            { lifetimeValue: { field: 'currentValue', operator: 'gte', value: 500 } },
            {
              and: [
                { score: { dimension: 'monetary', operator: 'gt', value: 90 } },
                { not: { churnProbability: { operator: 'gt', value: 0.5 } } },
              ],
            },
          ],
        },
      })
    ).body;
    const idle = (
      await create({
        name: unique('idle'),
        segmentType: 'LIFECYCLE',
        rules: { not: { score: { dimension: 'recency', operator: 'gt', value: 0 } } },
      })
    ).body;
    for (const s of [emailable, unreachable, valuable, idle])
      await h.call('POST', `/api/v1/cdp/segments/${s.id}/evaluate`);
    const inA = async (id: string) => (await memberIds(id)).includes(a.id);
    const inB = async (id: string) => (await memberIds(id)).includes(b.id);
    expect([await inA(emailable.id), await inB(emailable.id)]).toEqual([true, false]);
    expect([await inA(unreachable.id), await inB(unreachable.id)]).toEqual([false, false]);
    expect([await inA(valuable.id), await inB(valuable.id)]).toEqual([true, false]);
    // b's only event is its identify call, which is bookkeeping: no recency.
    expect([await inA(idle.id), await inB(idle.id)]).toEqual([false, true]);
  });

  it('places buyers in RFM cells by quintile and keeps the scores in the membership', async () => {
    // Ten buyers: the i-th bought i + 1 times, the last time (9 - i) × 40 days ago, for 10 × (i + 1)
    // each, so recency, frequency and money agree: buyer 9 is the best, buyer 0 the worst.
    const buyers = [];
    for (let i = 0; i < 10; i++) {
      const c = await newCustomer(h);
      for (let k = 0; k <= i; k++)
        await addEvent(
          h,
          { customerId: c.id },
          { type: 'PURCHASE', at: daysAgo(0.01 + (9 - i) * 40 + k), properties: { revenue: 10 * (i + 1) } },
        );
      buyers.push(c);
    }
    const seg = (await create({ name: unique('rfm'), segmentType: 'RFM' })).body;
    const picky = (
      await create({ name: unique('champs'), segmentType: 'RFM', rules: { rfm: { cells: ['champions'] } } })
    ).body;
    await h.call('POST', `/api/v1/cdp/segments/${seg.id}/evaluate`);
    await h.call('POST', `/api/v1/cdp/segments/${picky.id}/evaluate`);
    const all = (await members(seg.id, '?limit=500')).members as Json[];
    const of = (c: { id: string }) => all.find((m) => m.customerId === c.id);
    const best = buyers[9];
    const worst = buyers[0];
    if (!best || !worst) throw new Error('no buyers');
    expect(of(best)?.metadata).toMatchObject({ cell: 'champions', recency: 5, frequency: 5, monetary: 5 });
    expect(of(worst)?.metadata).toMatchObject({ cell: 'lost', recency: 1, frequency: 1, monetary: 1 });
    expect(await memberIds(picky.id)).toContain(best.id);
    expect(await memberIds(picky.id)).not.toContain(worst.id);
    const view = (await (await h.call('GET', `/api/v1/cdp/customer360/${best.id}`)).json()) as Json;
    expect(view.segments.find((s: Json) => s.id === seg.id)).toMatchObject({
      segmentType: 'RFM',
      rfmCell: 'champions',
    });
  });
});
