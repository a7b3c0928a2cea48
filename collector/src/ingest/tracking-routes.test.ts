import { eq, sql } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { testDatabases } from '../../test/databases';
import { API_KEY, basicAuth, type Json, useApp, WRITE_KEY } from '../../test/harness';
import { queryRows } from '../db/client';
import { customerEvents } from '../db/schema';
import { openPersonalData } from '../privacy/personal-data';

const IPHONE =
  'Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1';
let seq = 0;
const uid = (p: string) => `${p}-${Date.now().toString(36)}-${++seq}`;

describe.each(testDatabases)('tracking API on $name', (db) => {
  const h = useApp(db);
  const eventByMessageId = async (messageId: string) => {
    const [row] = await h.database.db.select().from(customerEvents).where(eq(customerEvents.messageId, messageId));
    return row;
  };

  it.each([
    ['track', { event: 'Clicked', properties: { n: 1 } }, 'CUSTOM', 'Clicked'],
    ['page', { name: 'Home', category: 'Docs', properties: { path: '/' } }, 'PAGE_VIEW', 'Home'],
    ['screen', { name: 'Settings' }, 'PAGE_VIEW', 'Settings'],
    ['identify', { traits: { plan: 'pro' } }, 'CUSTOM', 'identify'],
    ['group', { groupId: 'acme', traits: { size: 10 } }, 'CUSTOM', 'group'],
    ['alias', { previousId: 'old-id', userId: 'new-id' }, 'CUSTOM', 'alias'],
  ])('stores a %s call and keeps the original call', async (type, fields, eventType, eventName) => {
    const messageId = uid(type);
    const res = await h.send(type, { anonymousId: uid('anon'), messageId, ...fields });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ success: true, count: 1 });
    const row = await eventByMessageId(messageId);
    expect(row?.callType).toBe(type);
    expect(row?.eventType).toBe(eventType);
    expect(row?.eventName).toBe(eventName);
    if (type === 'group') expect(row?.metadata).toMatchObject({ groupId: 'acme', traits: { size: 10 } });
    if (type === 'alias') {
      // The previous ID names the person: it is stored sealed, and opened on read.
      expect(row?.metadata?.previousId).toMatch(/^enc:/);
      expect(openPersonalData(h.app.keyring, row?.metadata)).toMatchObject({ previousId: 'old-id' });
    }
    if (type === 'page') expect(row?.eventCategory).toBe('Docs');
  });

  it('maps a track to the spec type it names, or to a Segment semantic event', async () => {
    const a = uid('m');
    const b = uid('m');
    await h.send('batch', {
      batch: [
        { type: 'track', messageId: a, anonymousId: 'x-1', event: 'Quote Requested', eventType: 'QUOTE_REQUEST' },
        { type: 'track', messageId: b, anonymousId: 'x-1', event: 'Order Completed', properties: { revenue: 10 } },
      ],
    });
    expect((await eventByMessageId(a))?.eventType).toBe('QUOTE_REQUEST');
    expect((await eventByMessageId(b))?.eventType).toBe('PURCHASE');
  });

  describe('authentication', () => {
    it('answers 401 without a key and with an unknown key', async () => {
      const none = await h.call('POST', '/v1/track', { anonymousId: 'a', event: 'e' }, null);
      expect(none.status).toBe(401);
      expect((await none.json()).error.code).toBe('unauthorized');
      const wrong = await h.call('POST', '/v1/track', { anonymousId: 'a', event: 'e' }, basicAuth('wk_not_a_real_key'));
      expect(wrong.status).toBe(401);
    });

    it('accepts the write key in the body, as some libraries send it', async () => {
      const res = await h.call('POST', '/v1/track', { writeKey: WRITE_KEY, anonymousId: 'a', event: 'e' }, null);
      expect(res.status).toBe(200);
    });

    it('refuses a write key on the read API with 403 and no key with 401', async () => {
      const write = await h.call('GET', '/api/v1/cdp/events', undefined, `Bearer ${WRITE_KEY}`);
      expect(write.status).toBe(403);
      const none = await h.call('GET', '/api/v1/cdp/events', undefined, null);
      expect(none.status).toBe(401);
      const ok = await h.call('GET', '/api/v1/cdp/events', undefined, `Bearer ${API_KEY}`);
      expect(ok.status).toBe(200);
    });
  });

  describe('bodies and limits', () => {
    it('accepts text/plain bodies (sent by browsers to skip the CORS preflight)', async () => {
      const messageId = uid('plain');
      const res = await h.app.request('/v1/track', {
        method: 'POST',
        headers: { 'content-type': 'text/plain', authorization: basicAuth(WRITE_KEY) },
        body: JSON.stringify({ anonymousId: 'a', event: 'Plain', messageId }),
      });
      expect(res.status).toBe(200);
      expect(await eventByMessageId(messageId)).toBeDefined();
    });

    it('answers CORS preflights for browsers', async () => {
      const res = await h.app.request('/v1/batch', {
        method: 'OPTIONS',
        headers: {
          origin: 'https://shop.example',
          'access-control-request-method': 'POST',
          'access-control-request-headers': 'Content-Type, Authorization',
        },
      });
      expect(res.status).toBe(204);
      expect(res.headers.get('access-control-allow-origin')).toBe('*');
      // The headers the browser asked for (see cors.test.ts for what real libraries ask).
      expect(res.headers.get('access-control-allow-headers')).toBe('Content-Type,Authorization');
    });

    it('lets browsers read every answer, refusals and Retry-After included', async () => {
      const origin = { origin: 'https://shop.example' };
      const ok = await h.app.request('/v1/track', {
        method: 'POST',
        headers: { ...origin, 'content-type': 'application/json', authorization: basicAuth(WRITE_KEY) },
        body: JSON.stringify({ anonymousId: 'a', event: 'Cross-site' }),
      });
      const refused = await h.app.request('/v1/track', { method: 'POST', headers: origin, body: '{}' });
      expect([ok.status, refused.status]).toEqual([200, 401]);
      for (const res of [ok, refused]) {
        expect(res.headers.get('access-control-allow-origin')).toBe('*');
        expect(res.headers.get('access-control-expose-headers')).toBe('Retry-After');
      }
    });

    it('names malformed JSON', async () => {
      const res = await h.call('POST', '/v1/batch', '{"batch": [', basicAuth(WRITE_KEY));
      expect(res.status).toBe(400);
      expect((await res.json()).error.code).toBe('invalid_json');
    });

    it.each([
      ['track', { anonymousId: 'a' }, 'event'],
      ['track', { event: 'No identity' }, 'userId'],
      ['group', { anonymousId: 'a' }, 'groupId'],
      ['alias', { userId: 'u' }, 'previousId'],
      ['alias', { previousId: 'p', anonymousId: 'a' }, 'userId'],
      ['track', { anonymousId: 'a', event: 'e', timestamp: 'yesterday' }, 'timestamp'],
    ])('refuses %s %j naming %s', async (type, body, field) => {
      const res = await h.send(type, body);
      expect(res.status).toBe(400);
      const { error } = await res.json();
      expect(error.issues.map((i: Json) => i.path)).toContain(field);
    });

    it('names the batch item that is wrong and stores the others of that batch', async () => {
      const good = uid('good');
      const res = await h.send('batch', {
        batch: [
          { type: 'track', anonymousId: 'a', event: 'ok', messageId: good },
          { type: 'track', anonymousId: 'a' },
        ],
      });
      expect(res.status).toBe(200);
      const body = await res.json();
      expect(body).toMatchObject({ success: true, count: 1, refused: [{ index: 1, code: 'validation_failed' }] });
      expect(body.refused[0].issues[0].path).toBe('batch.1.event');
      expect(await eventByMessageId(good)).toBeDefined();
    });

    it('refuses an event over 32 KB', async () => {
      const res = await h.send('track', {
        anonymousId: 'a',
        event: 'big',
        properties: { blob: 'x'.repeat(33 * 1024) },
      });
      expect(res.status).toBe(413);
      expect((await res.json()).error.message).toMatch(/32 KB/);
    });

    it('names the batch item over 32 KB, counting a batch context it takes in, and stores the others', async () => {
      const good = uid('good');
      const res = await h.send('batch', {
        context: { page: { title: 'y'.repeat(20 * 1024) } },
        batch: [
          { type: 'track', anonymousId: 'a', event: 'ok', messageId: good },
          { type: 'track', anonymousId: 'a', event: 'big', properties: { blob: 'é'.repeat(7 * 1024) } },
        ],
      });
      expect(res.status).toBe(200);
      const [refused] = (await res.json()).refused;
      expect(refused.code).toBe('event_too_large');
      expect(refused.message).toMatch(/^batch\.1: .*32 KB/);
      expect(await eventByMessageId(good)).toBeDefined();
    });

    it('stores an event just under 32 KB', async () => {
      const messageId = uid('m');
      const res = await h.send('track', {
        anonymousId: 'a',
        messageId,
        event: 'almost',
        properties: { blob: 'x'.repeat(31 * 1024) },
      });
      expect(res.status).toBe(200);
      expect((await eventByMessageId(messageId))?.properties).toEqual({ blob: 'x'.repeat(31 * 1024) });
    });

    it('refuses a request over 500 KB', async () => {
      const batch = Array.from({ length: 20 }, () => ({
        type: 'track',
        anonymousId: 'a',
        event: 'e',
        properties: { blob: 'x'.repeat(30 * 1024) },
      }));
      const res = await h.send('batch', { batch });
      expect(res.status).toBe(413);
      expect((await res.json()).error.message).toMatch(/500 KB/);
    });

    it('refuses a batch of more than 2,500 events', async () => {
      const batch = Array.from({ length: 2501 }, () => ({ type: 'track', anonymousId: 'a', event: 'e' }));
      const res = await h.send('batch', { batch });
      expect(res.status).toBe(413);
      expect((await res.json()).error.message).toMatch(/2500/);
    });
  });

  it('stores a retried batch once (messageId dedupe)', async () => {
    const anon = uid('dedupe');
    const batch = Array.from({ length: 5 }, (_, i) => ({
      type: 'track',
      anonymousId: anon,
      event: `e${i}`,
      messageId: `${anon}-${i}`,
    }));
    const results = await Promise.all([
      h.send('batch', { batch }),
      h.send('batch', { batch }),
      h.send('batch', { batch }),
    ]);
    expect(results.map((r) => r.status)).toEqual([200, 200, 200]);
    const rows = await h.database.db.select().from(customerEvents).where(eq(customerEvents.anonymousId, anon));
    expect(rows).toHaveLength(5);
  });

  it('copies new events straight in and redoes a flush that meets a stored messageId, keeping its new events', async () => {
    const anon = uid('redo');
    const event = (i: number) => ({ type: 'track', anonymousId: anon, event: `e${i}`, messageId: `${anon}-${i}` });
    const retries = () => h.app.writer.stats.dedupeRetries;

    const before = retries();
    expect((await h.send('batch', { batch: [event(0), event(1)] })).status).toBe(200);
    expect(retries()).toBe(before);

    // A retry that also carries a new event, and a batch repeating one messageId within itself.
    expect((await h.send('batch', { batch: [event(1), event(2)] })).status).toBe(200);
    expect((await h.send('batch', { batch: [event(3), event(3)] })).status).toBe(200);
    expect(retries()).toBe(before + 2);

    const rows = await h.database.db.select().from(customerEvents).where(eq(customerEvents.anonymousId, anon));
    expect(rows.map((r) => r.messageId).sort()).toEqual([0, 1, 2, 3].map((i) => `${anon}-${i}`));
  });

  it('generates a messageId when the sender has none', async () => {
    const anon = uid('nomsg');
    await h.send('track', { anonymousId: anon, event: 'e' });
    await h.send('track', { anonymousId: anon, event: 'e' });
    const rows = await h.database.db.select().from(customerEvents).where(eq(customerEvents.anonymousId, anon));
    expect(rows).toHaveLength(2);
    expect(rows[0]?.messageId).not.toBe(rows[1]?.messageId);
  });

  it('corrects a device clock that runs an hour fast', async () => {
    const messageId = uid('skew');
    const hour = 3600_000;
    const now = Date.now();
    // The device believes it is an hour later; the event happened 5 s before it was sent.
    await h.send('track', {
      anonymousId: 'clock',
      event: 'e',
      messageId,
      timestamp: new Date(now + hour - 5000).toISOString(),
      sentAt: new Date(now + hour).toISOString(),
    });
    const row = await eventByMessageId(messageId);
    const received = row?.receivedAt.getTime() ?? 0;
    expect(row?.timestamp.getTime()).toBe(received - 5000);
    expect(Math.abs(received - now)).toBeLessThan(60_000);
    expect(row?.originalTimestamp?.getTime()).toBe(now + hour - 5000);
  });

  it("merges a batch's top-level context and integrations into each event, the event's own values winning", async () => {
    const messageId = uid('ctx');
    await h.send('batch', {
      context: { library: { name: 'analytics-node', version: '1' }, locale: 'en-US', userAgent: IPHONE },
      integrations: { All: true },
      batch: [{ type: 'track', anonymousId: 'a', event: 'e', messageId, context: { locale: 'de-DE' } }],
    });
    const row = await eventByMessageId(messageId);
    expect(row?.context).toMatchObject({ library: { name: 'analytics-node' }, locale: 'de-DE' });
    expect(row?.metadata).toMatchObject({ integrations: { All: true } });
    expect(row).toMatchObject({ deviceType: 'mobile', browser: 'Mobile Safari 17', os: 'iOS 17.0' });
  });

  it('takes the IP from context.ip when the sender passes the visitor IP', async () => {
    const messageId = uid('ip');
    await h.send('track', { anonymousId: 'a', event: 'e', messageId, context: { ip: '203.0.113.9' } });
    expect((await eventByMessageId(messageId))?.ipAddress).toBe('203.0.113.9');
  });

  it('refuses U+0000, which PostgreSQL cannot store, without failing other requests', async () => {
    const ok = uid('ok');
    const [bad, good] = await Promise.all([
      h.send('track', { anonymousId: 'a', event: 'nul\u0000' }),
      h.send('track', { anonymousId: 'a', event: 'fine', messageId: ok }),
    ]);
    expect(bad.status).toBe(400);
    expect(good.status).toBe(200);
    expect(await eventByMessageId(ok)).toBeDefined();
  });

  it('stores a flush of nothing but rows without a transaction, and links identities in one', async () => {
    const anon = uid('rows-only');
    const { transactions } = h.app.writer.stats;
    expect((await h.send('batch', { batch: [{ type: 'track', anonymousId: anon, event: 'Viewed' }] })).status).toBe(
      200,
    );
    expect(h.app.writer.stats.transactions).toBe(transactions);
    expect((await h.send('identify', { anonymousId: anon, userId: uid('rows-only-user') })).status).toBe(200);
    expect(h.app.writer.stats.transactions).toBe(transactions + 1);
    const [row] = await queryRows<{ n: number }>(
      h.database.db,
      sql`select count(*)::int as n from customer_events where anonymous_id = ${anon}`,
    );
    expect(row?.n).toBe(2);
  });

  it('shares one transaction between concurrent requests (group commit) and acknowledges each', async () => {
    const anon = uid('group');
    const sends = Array.from({ length: 20 }, (_, i) =>
      h.send('batch', { batch: [{ type: 'track', anonymousId: anon, event: `e${i}` }] }),
    );
    const commitsBefore = h.app.writer.stats.commits;
    const statuses = (await Promise.all(sends)).map((r) => r.status);
    expect(statuses.every((s) => s === 200)).toBe(true);
    expect(h.app.writer.stats.commits - commitsBefore).toBeLessThan(20);
    const [row] = await queryRows<{ n: number }>(
      h.database.db,
      sql`select count(*)::int as n from customer_events where anonymous_id = ${anon}`,
    );
    expect(row?.n).toBe(20);
  });
});

describe.each(testDatabases)('two collectors on one $name database', (db) => {
  const h = useApp(db);

  it('store a batch retried against both at once exactly once', async () => {
    const { createApp } = await import('../app');
    const { testConfig } = await import('../config');
    const second = createApp({ database: h.database, config: testConfig({ WRITE_KEYS: [WRITE_KEY] }) });
    const anon = uid('twin');
    const body = JSON.stringify({
      batch: Array.from({ length: 50 }, (_, i) => ({
        type: 'track',
        anonymousId: anon,
        event: 'e',
        messageId: `${anon}-${i}`,
      })),
    });
    const post = (app: typeof second) =>
      app.request('/v1/batch', { method: 'POST', headers: { authorization: basicAuth(WRITE_KEY) }, body });
    const results = await Promise.all([post(h.app), post(second), post(h.app), post(second)]);
    expect(results.map((r) => r.status)).toEqual([200, 200, 200, 200]);
    const rows = await h.database.db.select().from(customerEvents).where(eq(customerEvents.anonymousId, anon));
    expect(rows).toHaveLength(50);
  });
});

describe.each(testDatabases)('hostile but valid JSON on $name', (db) => {
  const h = useApp(db);

  it('stores lone UTF-16 surrogates (which jsonb refuses) as replacement characters', async () => {
    const messageId = uid('surrogate');
    const res = await h.call(
      'POST',
      '/v1/track',
      `{"anonymousId":"a","event":"e","messageId":"${messageId}","properties":{"bad":"x\\ud800y","\\udc00key":1}}`,
      basicAuth(WRITE_KEY),
    );
    expect(res.status).toBe(200);
    const [row] = await h.database.db.select().from(customerEvents).where(eq(customerEvents.messageId, messageId));
    expect(row?.properties).toEqual({ bad: 'x\ufffdy', '\ufffdkey': 1 });
  });

  it("stores COPY's delimiters (backslash, tab, newline, carriage return) as sent, in columns and in JSON", async () => {
    const messageId = uid('delimiters');
    const tricky = 'a\\b\tc\nd\re \\N "q" \\\\t \u2028';
    const res = await h.send('track', {
      anonymousId: `anon ${tricky}`,
      event: `event ${tricky}`,
      messageId,
      properties: { [tricky]: tricky, nested: [{ v: tricky }] },
    });
    expect(res.status).toBe(200);
    const [row] = await h.database.db.select().from(customerEvents).where(eq(customerEvents.messageId, messageId));
    expect(row?.anonymousId).toBe(`anon ${tricky}`);
    expect(row?.eventName).toBe(`event ${tricky}`);
    expect(row?.properties).toEqual({ [tricky]: tricky, nested: [{ v: tricky }] });
  });

  it('refuses timestamps outside years 1000 to 9999 and ignores a wildly wrong sentAt', async () => {
    const far = await h.send('track', { anonymousId: 'a', event: 'e', timestamp: '+275760-09-13T00:00:00.000Z' });
    expect(far.status).toBe(400);
    const messageId = uid('sent');
    const ok = await h.send('track', {
      anonymousId: 'a',
      event: 'e',
      messageId,
      timestamp: '2024-01-01T00:00:00.000Z',
      sentAt: '9999-01-01T00:00:00.000Z',
    });
    expect(ok.status).toBe(200);
    const [row] = await h.database.db.select().from(customerEvents).where(eq(customerEvents.messageId, messageId));
    expect(row?.timestamp.toISOString()).toBe('2024-01-01T00:00:00.000Z');
  });
});
