import { eq } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { testDatabases } from '../../test/databases';
import { useApp } from '../../test/harness';
import { customerIdentities, customerMerges, customers } from '../db/schema';
import { identityMatches } from '../privacy/identity-lookup';

let seq = 0;
const uid = (p: string) => `${p}-${Date.now().toString(36)}-${++seq}`;

describe.each(testDatabases)('identity stitching on $name', (db) => {
  const h = useApp(db);

  const ownerOf = async (type: 'EXTERNAL_ID' | 'COOKIE_ID' | 'EMAIL' | 'PHONE', value: string) => {
    const [row] = await h.database.db
      .select({ customerId: customerIdentities.customerId })
      .from(customerIdentities)
      .where(identityMatches(h.app.keyring, type, value));
    return row?.customerId;
  };
  const eventsOf = async (customerId: string) => {
    const res = await h.call('GET', `/api/v1/cdp/events?customerId=${customerId}&limit=500`);
    expect(res.status).toBe(200);
    return (await res.json()).events as { eventName: string; anonymousId: string | null }[];
  };

  it('links the anonymous history to the customer on identify', async () => {
    const anon = uid('anon');
    const user = uid('user');
    await h.send('batch', {
      batch: [
        { type: 'page', anonymousId: anon, name: 'Pricing' },
        { type: 'track', anonymousId: anon, event: 'Quote Requested' },
      ],
    });
    const res = await h.send('identify', {
      anonymousId: anon,
      userId: user,
      traits: { email: ' Ada@Example.COM ', phone: '+1 (415) 555-2671' },
    });
    expect(res.status).toBe(200);

    const customerId = await ownerOf('EXTERNAL_ID', user);
    expect(customerId).toBeDefined();
    expect(await ownerOf('COOKIE_ID', anon)).toBe(customerId);
    expect(await ownerOf('EMAIL', 'ada@example.com')).toBe(customerId);
    expect(await ownerOf('PHONE', '+14155552671')).toBe(customerId);

    const names = (await eventsOf(customerId as string)).map((e) => e.eventName).sort();
    expect(names).toEqual(['Pricing', 'Quote Requested', 'identify']);

    // Events after login, sent with the userId only (a backend), are the customer's too.
    await h.send('track', { userId: user, event: 'Order Completed', properties: { revenue: 20 } });
    expect((await eventsOf(customerId as string)).map((e) => e.eventName)).toContain('Order Completed');
  });

  it('merges a second anonymous device into the customer when it identifies', async () => {
    const user = uid('user');
    const laptop = uid('laptop');
    const phone = uid('phone');
    await h.send('identify', { anonymousId: laptop, userId: user });
    await h.send('track', { anonymousId: phone, event: 'Browsed on phone' });
    await h.send('identify', { anonymousId: phone, userId: user });
    const customerId = await ownerOf('EXTERNAL_ID', user);
    expect(await ownerOf('COOKIE_ID', phone)).toBe(customerId);
    expect((await eventsOf(customerId as string)).map((e) => e.eventName)).toContain('Browsed on phone');
  });

  it('lets a new userId adopt the anonymous customer its email belongs to', async () => {
    const email = `${uid('e')}@example.com`;
    const newsletter = uid('anon');
    await h.send('identify', { anonymousId: newsletter, traits: { email } });
    const anonymousCustomer = await ownerOf('EMAIL', email);
    const user = uid('user');
    await h.send('identify', { anonymousId: uid('other'), userId: user, traits: { email } });
    expect(await ownerOf('EXTERNAL_ID', user)).toBe(anonymousCustomer);
  });

  it('merges an anonymous customer into the identified one and records the merge', async () => {
    const user = uid('user');
    const email = `${uid('e')}@example.com`;
    await h.send('identify', { anonymousId: uid('laptop'), userId: user });
    const customerId = await ownerOf('EXTERNAL_ID', user);
    // On another device an anonymous visitor leaves an email, becoming a customer of its own ...
    const tablet = uid('tablet');
    await h.send('identify', { anonymousId: tablet, traits: { email } });
    const anonymousCustomer = await ownerOf('EMAIL', email);
    expect(anonymousCustomer).not.toBe(customerId);
    // ... then logs in there.
    await h.send('identify', { anonymousId: tablet, userId: user });
    expect(await ownerOf('EMAIL', email)).toBe(customerId);
    expect(await ownerOf('COOKIE_ID', tablet)).toBe(customerId);
    const [merged] = await h.database.db
      .select()
      .from(customers)
      .where(eq(customers.id, anonymousCustomer as string));
    expect(merged?.mergedIntoId).toBe(customerId);
    const [record] = await h.database.db
      .select()
      .from(customerMerges)
      .where(eq(customerMerges.sourceCustomerId, anonymousCustomer as string));
    expect(record).toMatchObject({ targetCustomerId: customerId, actor: 'stitch:identify', strategy: 'merge' });
  });

  it('never merges two customers who both have a userId', async () => {
    const device = uid('shared-device');
    const alice = uid('alice');
    const bob = uid('bob');
    await h.send('identify', { anonymousId: device, userId: alice });
    await h.send('identify', { anonymousId: device, userId: bob });
    const aliceId = await ownerOf('EXTERNAL_ID', alice);
    const bobId = await ownerOf('EXTERNAL_ID', bob);
    expect(aliceId).toBeDefined();
    expect(bobId).toBeDefined();
    expect(aliceId).not.toBe(bobId);
    // The shared device stays with its first owner; neither customer is marked merged.
    expect(await ownerOf('COOKIE_ID', device)).toBe(aliceId);
    const rows = await h.database.db
      .select()
      .from(customers)
      .where(eq(customers.id, bobId as string));
    expect(rows[0]?.mergedIntoId).toBeNull();
  });

  it('gives concurrent identifies of one new userId one customer, with every device linked', async () => {
    const user = uid('burst');
    const devices = Array.from({ length: 12 }, () => uid('device'));
    const sends = devices.map((anonymousId) => h.send('identify', { userId: user, anonymousId }));
    expect((await Promise.all(sends)).map((r) => r.status)).toEqual(devices.map(() => 200));
    const customerId = await ownerOf('EXTERNAL_ID', user);
    for (const d of devices) expect(await ownerOf('COOKIE_ID', d)).toBe(customerId);
    // No stray customer was created by a racing flush.
    const owners = await h.database.db
      .select({ id: customers.id })
      .from(customers)
      .where(eq(customers.mergedIntoId, customerId as string));
    expect(owners).toEqual([]);
  });

  it('links the previous ID on alias', async () => {
    const anon = uid('anon');
    const user = uid('user');
    await h.send('track', { anonymousId: anon, event: 'Before signup' });
    await h.send('alias', { previousId: anon, userId: user });
    const customerId = await ownerOf('EXTERNAL_ID', user);
    expect(await ownerOf('COOKIE_ID', anon)).toBe(customerId);
    expect((await eventsOf(customerId as string)).map((e) => e.eventName)).toContain('Before signup');
  });

  it('renames a userId on alias without merging two identified customers', async () => {
    const oldId = uid('old');
    const newId = uid('new');
    await h.send('identify', { userId: oldId, anonymousId: uid('a') });
    await h.send('alias', { previousId: oldId, userId: newId });
    expect(await ownerOf('EXTERNAL_ID', newId)).toBe(await ownerOf('EXTERNAL_ID', oldId));
  });

  it.each(['', '   ', 'undefined', 'null', '0', '-1', 'anonymous', 'Guest', 'NaN', '[object Object]'])(
    'never links on the junk identifier %j',
    async (junk) => {
      const before = await h.database.db.select({ id: customers.id }).from(customers);
      const res = await h.send('identify', { userId: junk, anonymousId: junk || ' ', traits: { email: junk } });
      expect(res.status).toBe(200);
      const after = await h.database.db.select({ id: customers.id }).from(customers);
      expect(after.length).toBe(before.length);
      expect(await ownerOf('EXTERNAL_ID', junk)).toBeUndefined();
    },
  );

  it('does not link two visitors through a junk userId', async () => {
    const a = uid('a');
    const b = uid('b');
    await h.send('identify', { userId: 'guest', anonymousId: a });
    await h.send('identify', { userId: 'guest', anonymousId: b });
    const ownerA = await ownerOf('COOKIE_ID', a);
    const ownerB = await ownerOf('COOKIE_ID', b);
    expect(ownerA).toBeDefined();
    expect(ownerA).not.toBe(ownerB);
  });

  it('links a whole flush in order: known userIds in one go, new userIds and contested devices one by one', async () => {
    const [u, v, w] = [uid('user'), uid('user'), uid('user')];
    const [a1, a2, a3, a4, b] = [uid('anon'), uid('anon'), uid('anon'), uid('anon'), uid('anon')];
    await h.send('identify', { userId: u, anonymousId: a1 });
    await h.send('identify', { userId: v, anonymousId: b });
    const [cu, cv] = [await ownerOf('EXTERNAL_ID', u), await ownerOf('EXTERNAL_ID', v)];
    const at = (minute: number) => `2024-06-01T10:0${minute}:00.000Z`;
    const commits = h.app.writer.stats.commits;

    const res = await h.send('batch', {
      batch: [
        { type: 'track', event: 'e', userId: u, anonymousId: a2, timestamp: at(1) }, // known user, new device
        { type: 'track', event: 'e', userId: u, anonymousId: a2, timestamp: at(2) }, // now its device already
        { type: 'track', event: 'e', userId: u, anonymousId: b, timestamp: at(3) }, // another user's device
        { type: 'track', event: 'e', userId: w, anonymousId: a3, timestamp: at(4) }, // a new user
        { type: 'track', event: 'e', userId: w, anonymousId: a4, timestamp: at(5) }, // known since the op before
        { type: 'track', event: 'e', userId: u, anonymousId: 'undefined', timestamp: at(6) }, // junk device
      ],
    });
    expect(res.status).toBe(200);
    expect(h.app.writer.stats.commits).toBe(commits + 1);

    const cw = await ownerOf('EXTERNAL_ID', w);
    expect(cw).toBeDefined();
    expect(new Set([cu, cv, cw]).size).toBe(3);
    expect(await ownerOf('COOKIE_ID', a2)).toBe(cu);
    expect(await ownerOf('COOKIE_ID', b)).toBe(cv); // never taken from an identified customer
    expect(await ownerOf('COOKIE_ID', a3)).toBe(cw);
    expect(await ownerOf('COOKIE_ID', a4)).toBe(cw);
    expect(await ownerOf('COOKIE_ID', 'undefined')).toBeUndefined();
    const devices = await h.database.db
      .select({ type: customerIdentities.identityType })
      .from(customerIdentities)
      .where(eq(customerIdentities.customerId, cu as string));
    expect(devices.filter((d) => d.type === 'COOKIE_ID')).toHaveLength(2); // a1 and a2, once each

    const lastSeen = async (id: string | undefined) =>
      (
        await h.database.db
          .select({ at: customers.lastSeenAt })
          .from(customers)
          .where(eq(customers.id, id as string))
      )[0]?.at;
    expect(await lastSeen(cu)).toEqual(new Date(at(6)));
    expect(await lastSeen(cw)).toEqual(new Date(at(5)));
  });
  // RudderStack sends each call on a request of its own, at once: they arrive in any order.
  it('links an identify that an alias naming its userId overtook to the alias’s customer', async () => {
    const anon = uid('anon');
    const user = uid('user');
    const member = uid('member');
    await h.send('batch', {
      batch: [
        { type: 'page', anonymousId: anon, name: 'Pricing' },
        { type: 'track', anonymousId: anon, event: 'Quote Requested' },
      ],
    });
    await h.send('alias', { userId: member, previousId: user, anonymousId: anon });
    await h.send('group', { userId: user, anonymousId: anon, groupId: 'acme' });
    await h.send('identify', { userId: user, anonymousId: anon, traits: { plan: 'pro' } });
    const customerId = await ownerOf('EXTERNAL_ID', member);
    expect(customerId).toBeDefined();
    expect(await ownerOf('EXTERNAL_ID', user)).toBe(customerId);
    expect(await ownerOf('COOKIE_ID', anon)).toBe(customerId);
    const names = (await eventsOf(customerId as string)).map((e) => e.eventName).sort();
    expect(names).toEqual(['Pricing', 'Quote Requested', 'alias', 'group', 'identify']);
  });

  it('does so too for identifies linked together as new customers in one flush', async () => {
    const user = uid('user');
    const member = uid('member');
    await h.send('alias', { userId: member, previousId: user });
    // Two identifies naming only identifiers of their own: the flush's new-customer path.
    const other = uid('other');
    await h.send('batch', {
      batch: [
        { type: 'identify', userId: user, traits: { plan: 'pro' } },
        { type: 'identify', userId: other },
      ],
    });
    const customerId = await ownerOf('EXTERNAL_ID', member);
    expect(await ownerOf('EXTERNAL_ID', user)).toBe(customerId);
    expect(await ownerOf('EXTERNAL_ID', other)).not.toBe(customerId);
  });
});
