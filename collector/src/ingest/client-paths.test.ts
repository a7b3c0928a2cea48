import { sql } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { testDatabases } from '../../test/databases';
import { basicAuth, type Harness, useApp, WRITE_KEY } from '../../test/harness';
import { queryRows } from '../db/client';

let seq = 0;
const uid = (p: string) => `${p}-${Date.now().toString(36)}-${++seq}`;

const storedCallTypes = async (h: Harness, anonymousId: string) => {
  await h.app.writer.idle();
  const rows = await queryRows<{ call_type: string }>(
    h.database.db,
    sql`select call_type from customer_events where anonymous_id = ${anonymousId}`,
  );
  return rows.map((r) => r.call_type).sort();
};

const resolve = async (h: Harness, userId: string) => {
  const res = await h.call('GET', `/api/v1/cdp/identity/resolve?identityType=EXTERNAL_ID&identityValue=${userId}`);
  return ((await res.json()) as { customerId: string }).customerId;
};

const traitsOf = async (h: Harness, customerId: string) => {
  const res = await h.call('GET', `/api/v1/cdp/traits/${customerId}?limit=100`);
  const body = (await res.json()) as { traits: { traitKey: string; traitValue: unknown }[] };
  return Object.fromEntries(body.traits.map((t) => [t.traitKey, t.traitValue]));
};

// What the real libraries send, recorded by running them (compat/): analytics.js posts each call to
// a one-letter path as text/plain, RudderStack's beacon posts a batch with the key in the query string.
describe.each(testDatabases)('the paths real clients post to, on $name', (db) => {
  const h = useApp(db);

  it("stores each of analytics.js's one-letter paths as its long form", async () => {
    const anonymousId = uid('ajs');
    const calls = {
      t: { type: 'track', event: 'Clicked' },
      p: { type: 'page', name: 'Home' },
      s: { type: 'screen', name: 'Settings' },
      i: { type: 'identify', traits: { plan: 'pro' } },
      g: { type: 'group', groupId: 'acme' },
      a: { type: 'alias', previousId: uid('old'), userId: uid('new') },
    };
    for (const [path, call] of Object.entries(calls)) {
      const res = await h.app.request(`/v1/${path}`, {
        method: 'POST',
        headers: { 'content-type': 'text/plain' },
        body: JSON.stringify({ ...call, anonymousId, writeKey: WRITE_KEY }),
      });
      expect(res.status, path).toBe(200);
    }
    const batch = await h.call(
      'POST',
      '/v1/b',
      { writeKey: WRITE_KEY, batch: [{ type: 'track', event: 'Batched', anonymousId }] },
      null,
    );
    expect(await batch.json()).toEqual({ success: true, count: 1 });
    expect(await storedCallTypes(h, anonymousId)).toEqual([
      'alias',
      'group',
      'identify',
      'page',
      'screen',
      'track',
      'track',
    ]);
  });

  it("stores RudderStack's beacon batch, its write key in the query string", async () => {
    const anonymousId = uid('beacon');
    const body = JSON.stringify({ batch: [{ type: 'track', event: 'Left', anonymousId }], sentAt: new Date() });
    const res = await h.app.request(`/beacon/v1/batch?writeKey=${WRITE_KEY}`, {
      method: 'POST',
      headers: { 'content-type': 'text/plain;charset=UTF-8' },
      body,
    });
    expect(res.status).toBe(200);
    expect(await storedCallTypes(h, anonymousId)).toEqual(['track']);
  });

  it('refuses a beacon with an invalid key or none, and stores nothing', async () => {
    const anonymousId = uid('beacon-bad');
    const body = JSON.stringify({ batch: [{ type: 'track', event: 'Left', anonymousId }] });
    const wrong = await h.app.request('/beacon/v1/batch?writeKey=wk_not_a_real_key_at_all', { method: 'POST', body });
    expect(wrong.status).toBe(401);
    expect(((await wrong.json()) as { error: { message: string } }).error.message).toMatch(/write key is not valid/);
    const none = await h.app.request('/beacon/v1/batch', { method: 'POST', body });
    expect(none.status).toBe(401);
    // The query string names a key on the beacon path only: elsewhere keys go in headers or the body.
    const query = await h.app.request(`/v1/batch?writeKey=${WRITE_KEY}`, { method: 'POST', body });
    expect(query.status).toBe(401);
    expect(await storedCallTypes(h, anonymousId)).toEqual([]);
  });

  it("takes an identify's traits from context.traits when it has none of its own", async () => {
    const userId = uid('rudder-user');
    const res = await h.send('identify', {
      userId,
      anonymousId: uid('anon'),
      context: { traits: { email: `${userId}@example.com`, plan: 'pro' } },
    });
    expect(res.status).toBe(200);
    const customerId = await resolve(h, userId);
    expect(await traitsOf(h, customerId)).toMatchObject({ email: `${userId}@example.com`, plan: 'pro' });
    // The email in context.traits links like a top-level one.
    const byEmail = await h.call(
      'GET',
      `/api/v1/cdp/identity/resolve?identityType=EMAIL&identityValue=${userId}@example.com`,
    );
    expect((await byEmail.json()).customerId).toBe(customerId);
  });

  it('reads the empty userId of an anonymous RudderStack call as none', async () => {
    const anonymousId = uid('rudder-anon');
    const res = await h.send('track', { userId: '', anonymousId, event: 'Viewed' });
    expect(res.status).toBe(200);
    await h.app.writer.idle();
    const rows = await queryRows<{ user_id: string | null }>(
      h.database.db,
      sql`select user_id from customer_events where anonymous_id = ${anonymousId}`,
    );
    expect(rows).toEqual([{ user_id: null }]);
  });

  it('keeps the top-level traits when an identify has both', async () => {
    const userId = uid('both');
    await h.send('identify', { userId, traits: { plan: 'top' }, context: { traits: { plan: 'context', extra: 1 } } });
    const traits = await traitsOf(h, await resolve(h, userId));
    expect(traits.plan).toBe('top');
    expect(traits).not.toHaveProperty('extra');
  });

  it('does not confuse a Basic key with the beacon path', async () => {
    const anonymousId = uid('beacon-basic');
    const res = await h.call(
      'POST',
      '/beacon/v1/batch',
      { batch: [{ type: 'page', name: 'x', anonymousId }] },
      basicAuth(WRITE_KEY),
    );
    expect(res.status).toBe(200);
    expect(await storedCallTypes(h, anonymousId)).toEqual(['page']);
  });
});
