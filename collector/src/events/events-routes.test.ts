import { describe, expect, it } from 'vitest';
import { testDatabases } from '../../test/databases';
import { type Json, useApp } from '../../test/harness';

describe.each(testDatabases)('CDP event endpoints on $name', (db) => {
  const h = useApp(db);

  const newCustomer = async () => {
    const userId = `user-${crypto.randomUUID()}`;
    await h.send('identify', { userId, anonymousId: crypto.randomUUID() });
    const res = await h.call('GET', `/api/v1/cdp/events?limit=1`);
    expect(res.status).toBe(200);
    const [row] = await h.database.db.query.customerIdentities.findMany({
      where: (t, { eq }) => eq(t.identityValue, userId),
    });
    return row?.customerId as string;
  };

  it('tracks an event with the product spec body and lists it by customer, type and dates', async () => {
    const customerId = await newCustomer();
    const res = await h.call('POST', '/api/v1/cdp/events/track', {
      customerId,
      sessionId: 'session-123',
      eventType: 'PAGE_VIEW',
      eventName: 'Quote Request Page Viewed',
      eventCategory: 'Quote',
      properties: { pageUrl: '/quotes/request', insuranceType: 'auto' },
      userAgent:
        'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36',
      country: 'DE',
      timestamp: '2024-06-01T10:00:00Z',
    });
    expect(res.status).toBe(200);
    expect((await res.json()).messageId).toEqual(expect.any(String));

    const list = await h.call(
      'GET',
      `/api/v1/cdp/events?customerId=${customerId}&eventType=PAGE_VIEW&startDate=2024-01-01&endDate=2024-12-31`,
    );
    const body = await list.json();
    expect(body.pagination).toEqual({ page: 1, limit: 50, total: 1, totalPages: 1 });
    expect(body.events[0]).toMatchObject({
      customerId,
      sessionId: 'session-123',
      eventType: 'PAGE_VIEW',
      eventCategory: 'Quote',
      deviceType: 'desktop',
      browser: 'Chrome 120',
      country: 'DE',
      timestamp: '2024-06-01T10:00:00.000Z',
    });

    const outside = await h.call(
      'GET',
      `/api/v1/cdp/events?customerId=${customerId}&eventType=PAGE_VIEW&startDate=2024-07-01`,
    );
    expect((await outside.json()).events).toHaveLength(0);
  });

  it('pages through events newest first', async () => {
    const customerId = await newCustomer();
    for (let i = 0; i < 5; i++) {
      await h.call('POST', '/api/v1/cdp/events/track', {
        customerId,
        eventType: 'SEARCH',
        eventName: `search ${i}`,
        timestamp: new Date(Date.UTC(2024, 0, 1 + i)).toISOString(),
      });
    }
    const page2 = await (
      await h.call('GET', `/api/v1/cdp/events?customerId=${customerId}&eventType=SEARCH&limit=2&page=2`)
    ).json();
    expect(page2.events.map((e: Json) => e.eventName)).toEqual(['search 2', 'search 1']);
    expect(page2.pagination).toMatchObject({ total: 5, totalPages: 3 });

    const recent = await (await h.call('GET', `/api/v1/cdp/events/${customerId}/recent?limit=3`)).json();
    expect(recent.events).toHaveLength(3);
  });

  it.each([
    ['POST', '/api/v1/cdp/events/track', { eventType: 'PAGE_VIEW', eventName: 'x' }, 'json.customerId'],
    ['POST', '/api/v1/cdp/events/track', { anonymousId: 'a', eventType: 'NOPE', eventName: 'x' }, 'json.eventType'],
    ['POST', '/api/v1/cdp/events/track', { anonymousId: 'a', eventType: 'CUSTOM' }, 'json.eventName'],
    ['GET', '/api/v1/cdp/events?limit=0', undefined, 'query.limit'],
    ['GET', '/api/v1/cdp/events?customerId=nope', undefined, 'query.customerId'],
    ['GET', '/api/v1/cdp/events?startDate=not-a-date', undefined, 'query.startDate'],
    ['GET', '/api/v1/cdp/events?endDate=%2B275760-09-13T00:00:00.000Z', undefined, 'query.endDate'],
    ['GET', '/api/v1/cdp/events/not-a-uuid/recent', undefined, 'param.customerId'],
  ])('%s %s answers 400 naming %s', async (method, path, body, field) => {
    const res = await h.call(method, path, body);
    expect(res.status).toBe(400);
    const { error } = await res.json();
    expect(error.issues.map((i: Json) => i.path)).toContain(field);
  });

  it('answers 404 for an unknown customer', async () => {
    const id = crypto.randomUUID();
    expect((await h.call('GET', `/api/v1/cdp/events/${id}/recent`)).status).toBe(404);
    const track = await h.call('POST', '/api/v1/cdp/events/track', {
      customerId: id,
      eventType: 'LOGIN',
      eventName: 'x',
    });
    expect(track.status).toBe(404);
  });

  it('answers malformed JSON with 400', async () => {
    const res = await h.call('POST', '/api/v1/cdp/events/track', '{nope');
    expect(res.status).toBe(400);
  });
});
