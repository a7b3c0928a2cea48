import { sql } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { identifyCustomer } from '../../test/customers';
import { testDatabases } from '../../test/databases';
import { type Harness, useApp } from '../../test/harness';
import { queryRows } from '../db/client';

/** How many of these events are stored. */
async function storedEvents(h: Harness, messageIds: string[]) {
  await h.app.writer.idle();
  const [events] = await queryRows<{ n: number }>(
    h.database.db,
    sql`select count(*)::int as n from customer_events where message_id in (${sql.join(
      messageIds.map((id) => sql`${id}`),
      sql`, `,
    )})`,
  );
  return events?.n ?? 0;
}

const resolves = async (h: Harness, identityType: string, identityValue: string) =>
  (
    await h.call(
      'GET',
      `/api/v1/cdp/identity/resolve?identityType=${identityType}&identityValue=${encodeURIComponent(identityValue)}`,
    )
  ).status;

const regulate = async (h: Harness, body: Record<string, unknown>) => {
  const res = await h.call('POST', '/api/v1/admin/regulations', body);
  expect(res.status).toBe(201);
  return res.json();
};

const counts = async (h: Harness) => {
  const [row] = await queryRows<{ customers: number; identities: number; traits: number; consents: number }>(
    h.database.db,
    sql`select (select count(*) from customers)::int as customers,
               (select count(*) from customer_identities)::int as identities,
               (select count(*) from customer_traits)::int as traits,
               (select count(*) from customer_consents)::int as consents`,
  );
  return row;
};

describe.each(testDatabases)('suppression of every identifier on $name', (db) => {
  const h = useApp(db);

  it('SUPPRESS by an EMAIL nobody has yet stops a later identify or track carrying it', async () => {
    const email = `nobody-${crypto.randomUUID()}@example.com`;
    await regulate(h, { regulationType: 'SUPPRESS', identityType: 'EMAIL', identityValue: email });
    const before = await counts(h);

    const userId = `later-${crypto.randomUUID()}`;
    const ids = [crypto.randomUUID(), crypto.randomUUID(), crypto.randomUUID()];
    const consent = { consent: { categoryPreferences: { marketing: true } } };
    expect(
      (
        await h.send('identify', {
          userId,
          messageId: ids[0],
          traits: { email: `  ${email.toUpperCase()} `, plan: 'pro' },
          context: consent,
        })
      ).status,
    ).toBe(200);
    // The email in `context.traits` of any call counts too.
    expect(
      (
        await h.send('track', {
          userId,
          messageId: ids[1],
          event: 'Bought',
          context: { traits: { email }, ...consent },
        })
      ).status,
    ).toBe(200);
    // And in a batch, only that event is left out.
    const kept = crypto.randomUUID();
    const batch = await h.send('batch', {
      batch: [
        { type: 'identify', userId: `other-${crypto.randomUUID()}`, messageId: ids[2], traits: { email } },
        { type: 'track', anonymousId: crypto.randomUUID(), messageId: kept, event: 'Unrelated' },
      ],
    });
    expect(await batch.json()).toEqual({ success: true, count: 2 });

    expect(await storedEvents(h, ids)).toBe(0);
    expect(await storedEvents(h, [kept])).toBe(1);
    expect(await resolves(h, 'EXTERNAL_ID', userId)).toBe(404);
    expect(await resolves(h, 'EMAIL', email)).toBe(404);
    const after = await counts(h);
    // The unrelated track made no customer either (no userId): nothing was created at all.
    expect(after).toEqual(before);
  });

  it('SUPPRESS by a PHONE nobody has yet stops a later identify carrying it in any notation', async () => {
    const phone = `+1415555${String(Math.floor(Math.random() * 10_000)).padStart(4, '0')}`;
    await regulate(h, { regulationType: 'SUPPRESS', identityType: 'PHONE', identityValue: phone });
    const local = `(${phone.slice(2, 5)}) ${phone.slice(5, 8)}-${phone.slice(8)}`;
    const ids = [crypto.randomUUID(), crypto.randomUUID()];
    const userId = `phone-${crypto.randomUUID()}`;
    await h.send('identify', { userId, messageId: ids[0], traits: { phone: local } });
    await h.send('identify', { userId, messageId: ids[1], traits: { phoneNumber: phone } });
    expect(await storedEvents(h, ids)).toBe(0);
    expect(await resolves(h, 'EXTERNAL_ID', userId)).toBe(404);
    expect(await resolves(h, 'PHONE', phone)).toBe(404);
  });

  it('a new userId carrying a deleted person’s email re-creates nothing', async () => {
    const email = `deleted-${crypto.randomUUID()}@example.com`;
    const userId = `deleted-${crypto.randomUUID()}`;
    const anonymousId = crypto.randomUUID();
    const customerId = await identifyCustomer(h, userId, { anonymousId, traits: { email, plan: 'pro' } });
    await regulate(h, { regulationType: 'SUPPRESS_WITH_DELETE', customerId });
    const before = await counts(h);

    const newUserId = `new-${crypto.randomUUID()}`;
    const ids = [crypto.randomUUID(), crypto.randomUUID(), crypto.randomUUID(), crypto.randomUUID()];
    await h.send('identify', {
      userId: newUserId,
      anonymousId: crypto.randomUUID(),
      messageId: ids[0],
      traits: { email: email.toUpperCase(), plan: 'enterprise' },
      context: { consent: { categoryPreferences: { marketing: true } } },
    });
    await h.send('page', { userId: newUserId, messageId: ids[1], name: 'Home', context: { traits: { email } } });
    // The deleted person's own identifiers, and an alias naming the deleted userId, are refused too.
    await h.send('track', { anonymousId, messageId: ids[2], event: 'Back' });
    await h.send('alias', { userId: newUserId, previousId: userId, messageId: ids[3] });

    expect(await storedEvents(h, ids)).toBe(0);
    expect(await resolves(h, 'EXTERNAL_ID', newUserId)).toBe(404);
    expect(await resolves(h, 'EMAIL', email)).toBe(404);
    expect(await counts(h)).toEqual(before);
  });

  it('UNSUPPRESS of an email lets its events in again', async () => {
    const email = `back-${crypto.randomUUID()}@example.com`;
    await regulate(h, { regulationType: 'SUPPRESS', identityType: 'EMAIL', identityValue: email });
    await regulate(h, { regulationType: 'UNSUPPRESS', identityType: 'EMAIL', identityValue: email });
    const userId = `back-${crypto.randomUUID()}`;
    const id = crypto.randomUUID();
    await h.send('identify', { userId, messageId: id, traits: { email } });
    expect(await storedEvents(h, [id])).toBe(1);
    expect(await resolves(h, 'EMAIL', email)).toBe(200);
  });

  it('the CDP events/track route stores nothing of a suppressed identifier, and answers as usual', async () => {
    const anonymousId = crypto.randomUUID();
    await regulate(h, { regulationType: 'SUPPRESS', identityType: 'COOKIE_ID', identityValue: anonymousId });
    const email = `cdp-${crypto.randomUUID()}@example.com`;
    await regulate(h, { regulationType: 'SUPPRESS', identityType: 'EMAIL', identityValue: email });
    const suppressedCustomer = await identifyCustomer(h, `cdp-${crypto.randomUUID()}`);
    await regulate(h, { regulationType: 'SUPPRESS', customerId: suppressedCustomer });
    const free = await identifyCustomer(h, `cdp-free-${crypto.randomUUID()}`);

    const track = async (body: Record<string, unknown>) => {
      const messageId = crypto.randomUUID();
      const res = await h.call('POST', '/api/v1/cdp/events/track', {
        eventType: 'CUSTOM',
        eventName: 'CDP event',
        messageId,
        ...body,
      });
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({ success: true, messageId });
      return messageId;
    };
    const refused = [
      await track({ anonymousId }),
      await track({ anonymousId: crypto.randomUUID(), context: { traits: { email } } }),
      await track({ customerId: suppressedCustomer }),
    ];
    const stored = await track({ customerId: free });
    expect(await storedEvents(h, refused)).toBe(0);
    expect(await storedEvents(h, [stored])).toBe(1);
  });
});

describe.each(testDatabases)('suppression outside the US on $name', (db) => {
  const h = useApp(db, { DEFAULT_PHONE_COUNTRY: 'GB' });

  it('SUPPRESS by a national phone number reads it in DEFAULT_PHONE_COUNTRY, as ingestion does', async () => {
    const national = `020 7946 ${String(Math.floor(Math.random() * 10_000)).padStart(4, '0')}`;
    await regulate(h, { regulationType: 'SUPPRESS', identityType: 'PHONE', identityValue: national });
    const messageId = crypto.randomUUID();
    await h.send('identify', { userId: `uk-${crypto.randomUUID()}`, messageId, traits: { phone: national } });
    expect(await storedEvents(h, [messageId])).toBe(0);
  });
});
