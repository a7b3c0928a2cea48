import { request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { eq, inArray, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { insertCustomer } from '../../test/customers';
import { testDatabases } from '../../test/databases';
import { API_KEY, basicAuth, type Json, type JsonResponse, useApp, WRITE_KEY } from '../../test/harness';
import { POISON_NAMES as POISON } from '../../test/poison-names';
import { queryRows } from '../db/client';
import { auditLog, customerEvents, customerTraits } from '../db/schema';
import { SERVER_OPTIONS } from './server-options';

/**
 * The hostile-input corpus of issue 12, replayed on each database: deep JSON, poison names in every
 * position, lone surrogates, U+0000, the largest batch, huge headers and user agents, bodies far over
 * the limits. Every answer is a 4xx or a 2xx, never a 5xx, and the process goes on serving.
 */

let seq = 0;
const uid = (p: string) => `${p}-${Date.now().toString(36)}-${++seq}`;
/** JSON text with lone surrogates written as the escapes a hostile sender puts on the wire. */
const LONE = '\\ud800';
const LONE_LOW = '\\udfff';
const deepArray = (depth: number) => `${'['.repeat(depth)}1${']'.repeat(depth)}`;
const deepObject = (depth: number) => `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;

describe.each(testDatabases)('hostile corpus on $name', (db) => {
  const h = useApp(db, { RATE_LIMIT_PER_SECOND: 100_000 });
  /** Every status answered in this file, checked once at the end. */
  const statuses: { what: string; status: number }[] = [];
  const note = <T extends { status: number }>(what: string, res: T): T => {
    statuses.push({ what, status: res.status });
    return res;
  };
  const sendText = async (path: string, text: string, what = path) =>
    note(
      what,
      await h.app.request(path, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: basicAuth(WRITE_KEY) },
        body: text,
      }),
    ) as unknown as JsonResponse;
  const cdpText = async (method: string, path: string, text: string) =>
    note(
      `${method} ${path}`,
      await h.app.request(path, {
        method,
        headers: { 'content-type': 'application/json', authorization: `Bearer ${API_KEY}` },
        body: text,
      }),
    ) as unknown as JsonResponse;
  const rowsOf = (messageIds: string[]) =>
    h.database.db.select().from(customerEvents).where(inArray(customerEvents.messageId, messageIds));

  afterAll(() => {
    expect(statuses.filter((s) => s.status >= 500)).toEqual([]);
  });

  describe('deep JSON', () => {
    it('refuses a batch event nested 7,000 levels deep on its own and stores the others', async () => {
      const ids = Array.from({ length: 100 }, (_, i) => uid(`deep-${i}`));
      const events = ids.map((messageId) =>
        JSON.stringify({ type: 'track', anonymousId: 'deep', event: 'e', messageId }),
      );
      events.splice(40, 0, `{"type":"track","anonymousId":"deep","event":"d","properties":{"a":${deepArray(7000)}}}`);
      events.splice(60, 0, `{"type":"track","anonymousId":"deep","event":"d","properties":${deepObject(4000)}}`);
      const concurrentIds = Array.from({ length: 20 }, (_, i) => uid(`deep-concurrent-${i}`));
      const [res, concurrent] = await Promise.all([
        sendText('/v1/batch', `{"batch":[${events.join(',')}]}`),
        sendText(
          '/v1/batch',
          JSON.stringify({
            batch: concurrentIds.map((messageId) => ({ type: 'track', anonymousId: 'c', event: 'e', messageId })),
          }),
        ),
      ]);
      expect([res.status, concurrent.status]).toEqual([200, 200]);
      const body = await res.json();
      expect(body.count).toBe(100);
      expect(body.refused.map((r: Json) => [r.index, r.code])).toEqual([
        [40, 'json_too_deep'],
        [60, 'json_too_deep'],
      ]);
      expect(body.refused[0].message).toMatch(/32 levels/);
      expect(await rowsOf([...ids, ...concurrentIds])).toHaveLength(120);
    });

    it('refuses a single call, or a batch whose shared context is too deep, as a whole with a 400 naming the limit', async () => {
      const single = await sendText(
        '/v1/track',
        `{"anonymousId":"a","event":"e","properties":{"a":${deepArray(7000)}}}`,
      );
      expect(single.status).toBe(400);
      const error = (await single.json()).error;
      expect(error.code).toBe('json_too_deep');
      expect(error.issues[0].path).toMatch(/^properties\.a/);
      const context = await sendText(
        '/v1/batch',
        `{"context":{"page":${deepObject(40)}},"batch":[{"type":"track","anonymousId":"a","event":"e"}]}`,
      );
      expect(context.status).toBe(400);
      expect((await context.json()).error.code).toBe('json_too_deep');
      // 32 levels of the body are fine: 29 inside a batch event's properties.
      const messageId = uid('deep-ok');
      const ok = await sendText(
        '/v1/batch',
        `{"batch":[{"type":"track","anonymousId":"a","event":"e","messageId":"${messageId}","properties":${deepObject(29)}}]}`,
      );
      expect(ok.status).toBe(200);
      expect(await ok.json()).toEqual({ success: true, count: 1 });
    });

    it.each([
      ['POST', '/traits/{id}', (d: string) => `{"traitKey":"k","traitValue":${d},"traitType":"BEHAVIORAL"}`],
      [
        'POST',
        '/traits/{id}/batch',
        (d: string) => `{"traits":[{"traitKey":"k","traitValue":${d},"traitType":"BEHAVIORAL"}]}`,
      ],
      ['POST', '/consents/{id}', (d: string) => `{"consentType":"PROFILING","granted":true,"metadata":{"m":${d}}}`],
      [
        'POST',
        '/identities/{id}',
        (d: string) => `{"identityType":"DEVICE_ID","identityValue":"v","metadata":{"m":${d}}}`,
      ],
      [
        'POST',
        '/segments',
        (d: string) => `{"name":"n","segmentType":"DYNAMIC","rules":${d.replaceAll('"a"', '"not"')}}`,
      ],
      [
        'POST',
        '/events/track',
        (d: string) => `{"anonymousId":"a","eventType":"CUSTOM","eventName":"e","properties":${d}}`,
      ],
      ['POST', '/admin/keys', (d: string) => `{"kind":"read","name":${d}}`],
    ])('answers %s %s nested 7,000 levels deep with a 400 naming the limit', async (method, template, body) => {
      const id = await insertCustomer(h);
      const base = template.startsWith('/admin') ? '/api/v1' : '/api/v1/cdp';
      for (const deep of [deepArray(7000), deepObject(7000)]) {
        const res = await cdpText(method, `${base}${template.replace('{id}', id)}`, body(deep));
        expect(res.status).toBe(400);
        const { error } = await res.json();
        expect(error.code).toBe('json_too_deep');
        expect(error.message).toMatch(/32 levels/);
      }
    });

    it('refuses an object of more than 1,000 members and keeps one of 1,000', async () => {
      const members = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, i]));
      const [fine, wide] = [uid('members'), uid('members')];
      const res = await sendText(
        '/v1/batch',
        JSON.stringify({
          batch: [
            { type: 'track', anonymousId: 'a', event: 'e', messageId: fine, properties: members(1000) },
            { type: 'track', anonymousId: 'a', event: 'e', messageId: wide, properties: members(1001) },
          ],
        }),
      );
      expect(res.status).toBe(200);
      const body = await res.json();
      expect(body.refused).toEqual([
        expect.objectContaining({ index: 1, messageId: wide, code: 'json_too_many_members' }),
      ]);
      expect((await rowsOf([fine, wide])).map((r) => r.messageId)).toEqual([fine]);
      const id = await insertCustomer(h);
      const cdp = await cdpText(
        'POST',
        `/api/v1/cdp/traits/${id}`,
        JSON.stringify({ traitKey: 'wide', traitValue: members(1001), traitType: 'BEHAVIORAL' }),
      );
      expect(cdp.status).toBe(400);
      expect((await cdp.json()).error).toMatchObject({
        code: 'json_too_many_members',
        issues: [{ path: 'json.traitValue' }],
      });
    });
  });

  describe('poison names', () => {
    it('stores event names, property, trait and context keys and consent categories such as __proto__ as plain data', async () => {
      const anon = uid('poison');
      const events: string[] = [];
      const ids: string[] = [];
      const add = (fields: string) => {
        const messageId = uid('poison');
        ids.push(messageId);
        events.push(`{"messageId":"${messageId}","anonymousId":"${anon}",${fields}}`);
      };
      for (const name of POISON) {
        const value = `{"${name}":{"${name}":"${name}"},"x":1}`;
        add(`"type":"track","event":"${name}","properties":${value}`);
        add(`"type":"page","name":"${name}","category":"${name}","properties":${value}`);
        add(`"type":"identify","userId":"${name}","traits":${value}`);
        add(`"type":"group","groupId":"${name}","traits":${value}`);
        add(`"type":"alias","userId":"${anon}-${name}","previousId":"${name}"`);
        add(
          `"type":"track","event":"e","context":{"consent":{"categoryPreferences":{"${name}":true,"analytics":true}},"traits":${value},"page":${value}},"integrations":${value}`,
        );
      }
      const res = await sendText('/v1/batch', `{"batch":[${events.join(',')}]}`);
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({ success: true, count: events.length });
      expect(({} as Record<string, unknown>).x).toBeUndefined();
      const rows = await rowsOf(ids);
      expect(rows).toHaveLength(events.length);
      const tracks = rows.filter((r) => r.callType === 'track' && r.eventName !== 'e');
      expect(tracks.map((r) => r.eventName).sort()).toEqual([...POISON].sort());
      for (const row of tracks) {
        const name = row.eventName;
        expect(row.eventType).toBe('CUSTOM');
        const properties = row.properties as Record<string, Record<string, unknown>>;
        expect(Object.keys(properties).sort()).toEqual([name, 'x'].sort());
        expect(Object.hasOwn(properties[name] as object, name)).toBe(true);
        expect(properties[name]?.[name]).toBe(name);
      }
      const consent = rows.filter((r) => r.callType === 'track' && r.eventName === 'e');
      const categories = (r: (typeof rows)[number]) => Object.keys((r.context as Json).consent.categoryPreferences);
      expect(
        consent
          .flatMap(categories)
          .filter((k) => k !== 'analytics')
          .sort(),
      ).toEqual([...POISON].sort());
      const [traits] = await queryRows<{ n: number }>(
        h.database.db,
        sql`select count(*)::int as n from customer_traits where trait_key in ${sql.raw(`(${POISON.map((p) => `'${p}'`).join(',')})`)}`,
      );
      expect(traits?.n).toBeGreaterThanOrEqual(POISON.length);
    });

    it('stores poison names through the CDP API as plain data', async () => {
      const id = await insertCustomer(h);
      for (const name of POISON) {
        const value = `{"${name}":{"${name}":1}}`;
        const trait = await cdpText(
          'POST',
          `/api/v1/cdp/traits/${id}`,
          `{"traitKey":"${name}","traitValue":${value},"traitType":"BEHAVIORAL","metadata":${value}}`,
        );
        expect(trait.status).toBe(200);
        const consent = await cdpText(
          'POST',
          `/api/v1/cdp/consents/${id}`,
          `{"consentType":"PROFILING","granted":true,"source":"${name}","metadata":${value}}`,
        );
        expect(consent.status).toBe(200);
        const event = await cdpText(
          'POST',
          `/api/v1/cdp/events/track`,
          `{"customerId":"${id}","eventType":"CUSTOM","eventName":"${name}","properties":${value},"context":${value},"metadata":${value}}`,
        );
        expect(event.status).toBe(200);
        const segment = await cdpText(
          'POST',
          '/api/v1/cdp/segments',
          `{"name":"${name}","segmentType":"DYNAMIC","rules":{"trait":{"key":"${name}","operator":"exists"}}}`,
        );
        expect(segment.status).toBe(201);
      }
      const stored = await h.database.db.select().from(customerTraits).where(eq(customerTraits.customerId, id));
      expect(stored.map((t) => t.traitKey).sort()).toEqual([...POISON].sort());
      for (const t of stored) expect(Object.hasOwn(t.traitValue as object, t.traitKey)).toBe(true);
    });
  });

  describe('lone surrogates', () => {
    it('replaces them with U+FFFD in ids, names, keys and values of tracking calls', async () => {
      const anon = uid('lone');
      const [track, identify] = [uid('lone'), uid('lone')];
      const res = await sendText(
        '/v1/batch',
        `{"batch":[` +
          `{"type":"track","messageId":"${track}","userId":"u${LONE}${anon}","anonymousId":"${anon}${LONE_LOW}","event":"e${LONE}",` +
          `"properties":{"k${LONE}":"v${LONE_LOW}","ok":"\\ud83d\\ude80"},"context":{"consent":{"categoryPreferences":{"c${LONE}":true}}}},` +
          `{"type":"identify","messageId":"${identify}","userId":"u${LONE}${anon}","traits":{"t${LONE}":"v${LONE}","plan":"p${LONE}"}}]}`,
      );
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({ success: true, count: 2 });
      const rows = await rowsOf([track, identify]);
      const row = rows.find((r) => r.messageId === track);
      expect(row).toMatchObject({
        userId: `u\ufffd${anon}`,
        anonymousId: `${anon}\ufffd`,
        eventName: 'e\ufffd',
        properties: { 'k\ufffd': 'v\ufffd', ok: '🚀' },
      });
      expect((row?.context as Json)?.consent.categoryPreferences).toEqual({ 'c\ufffd': true });
      const [traits] = await queryRows<{ keys: string[] }>(
        h.database.db,
        sql`select array_agg(trait_key order by trait_key) as keys from customer_traits t
            join customer_identities i on i.customer_id = t.customer_id
            where i.identity_type = 'EXTERNAL_ID' and i.identity_value = ${`u\ufffd${anon}`}`,
      );
      expect(traits?.keys).toEqual(['plan', 't\ufffd']);
    });

    it('replaces them in CDP bodies', async () => {
      const id = await insertCustomer(h);
      const trait = await cdpText(
        'POST',
        `/api/v1/cdp/traits/${id}`,
        `{"traitKey":"k${LONE}","traitValue":{"x${LONE}":"y${LONE_LOW}"},"traitType":"BEHAVIORAL"}`,
      );
      expect(trait.status).toBe(200);
      expect((await trait.json()).trait).toMatchObject({ traitKey: 'k\ufffd', traitValue: { 'x\ufffd': 'y\ufffd' } });
      const identity = await cdpText(
        'POST',
        `/api/v1/cdp/identities/${id}`,
        `{"identityType":"EXTERNAL_ID","identityValue":"ext${LONE}${id}"}`,
      );
      expect(identity.status).toBe(201);
      const segment = await cdpText('POST', '/api/v1/cdp/segments', `{"name":"s${LONE}","segmentType":"STATIC"}`);
      expect(segment.status).toBe(201);
      expect((await segment.json()).name).toBe('s\ufffd');
    });
  });

  describe('U+0000', () => {
    it('refuses the batch event carrying it on its own; a single call as a whole', async () => {
      const [good, bad] = [uid('nul'), uid('nul')];
      const res = await sendText(
        '/v1/batch',
        `{"batch":[{"type":"track","anonymousId":"a","event":"e","messageId":"${good}"},` +
          `{"type":"track","anonymousId":"a","event":"e","messageId":"${bad}","properties":{"k\\u0000":1}}]}`,
      );
      expect(res.status).toBe(200);
      expect((await res.json()).refused).toEqual([
        expect.objectContaining({ index: 1, messageId: bad, code: 'nul_character' }),
      ]);
      expect((await rowsOf([good, bad])).map((r) => r.messageId)).toEqual([good]);
      const single = await sendText('/v1/identify', '{"userId":"u\\u0000"}');
      expect(single.status).toBe(400);
      expect((await single.json()).error).toMatchObject({ code: 'nul_character', issues: [{ path: 'userId' }] });
    });

    it.each([
      ['POST', '/segments', '{"name":"a\\u0000","segmentType":"STATIC"}', 'json.name'],
      ['POST', '/identities/{id}', '{"identityType":"DEVICE_ID","identityValue":"v\\u0000"}', 'json.identityValue'],
      ['POST', '/consents/{id}', '{"consentType":"PROFILING","granted":true,"source":"s\\u0000"}', 'json.source'],
      [
        'POST',
        '/consents/{id}',
        '{"consentType":"PROFILING","granted":true,"metadata":{"k\\u0000":1}}',
        'json.metadata.k\u0000',
      ],
      ['POST', '/events/track', '{"anonymousId":"a\\u0000","eventType":"CUSTOM","eventName":"e"}', 'json.anonymousId'],
      ['POST', '/admin/keys', '{"kind":"read","name":"n\\u0000"}', 'json.name'],
    ])('answers %s %s carrying U+0000 with a 400 naming the field', async (method, template, body, path) => {
      const id = await insertCustomer(h);
      const base = template.startsWith('/admin') ? '/api/v1' : '/api/v1/cdp';
      const res = await cdpText(method, `${base}${template.replace('{id}', id)}`, body);
      expect(res.status).toBe(400);
      expect((await res.json()).error).toMatchObject({ code: 'nul_character', issues: [{ path }] });
    });
  });

  it('stores a batch of 2,500 events and refuses one of 2,501', async () => {
    const anon = uid('max');
    const batch = Array.from({ length: 2500 }, (_, i) => ({
      type: 'track',
      anonymousId: anon,
      event: 'e',
      messageId: `${anon}-${i}`,
    }));
    const res = await sendText('/v1/batch', JSON.stringify({ batch }));
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ success: true, count: 2500 });
    const [row] = await queryRows<{ n: number }>(
      h.database.db,
      sql`select count(*)::int as n from customer_events where anonymous_id = ${anon}`,
    );
    expect(row?.n).toBe(2500);
    const over = await sendText('/v1/batch', JSON.stringify({ batch: [...batch, batch[0]] }));
    expect(over.status).toBe(413);
  });

  it('bounds user agents to 512 characters, from the header or context.userAgent, before parsing and storing them', async () => {
    const ua = `Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) ${'x'.repeat(8000)}`;
    const [fromHeader, fromContext] = [uid('ua'), uid('ua')];
    const header = note(
      'ua header',
      await h.app.request('/v1/track', {
        method: 'POST',
        headers: { authorization: basicAuth(WRITE_KEY), 'user-agent': ua },
        body: JSON.stringify({ anonymousId: 'ua', event: 'e', messageId: fromHeader }),
      }),
    );
    expect(header.status).toBe(200);
    const context = await sendText(
      '/v1/track',
      JSON.stringify({ anonymousId: 'ua', event: 'e', messageId: fromContext, context: { userAgent: ua } }),
    );
    expect(context.status).toBe(200);
    for (const row of await rowsOf([fromHeader, fromContext])) {
      expect(row.userAgent).toBe(ua.slice(0, 512));
      expect(row.os).toBe('iOS 17.0');
    }
    const stored = (await rowsOf([fromContext]))[0]?.context as Json;
    expect(stored.userAgent).toBe(ua.slice(0, 512));
  });

  it('refuses a trait value over 32 KB, and a CDP body over 1 MB declared or chunked, with a 413', async () => {
    const id = await insertCustomer(h);
    const big = await cdpText(
      'POST',
      `/api/v1/cdp/traits/${id}`,
      JSON.stringify({ traitKey: 'big', traitValue: 'x'.repeat(40 * 1024), traitType: 'BEHAVIORAL' }),
    );
    expect(big.status).toBe(400);
    expect((await big.json()).error.issues[0].path).toBe('json.traitValue');
    const huge = await cdpText(
      'POST',
      `/api/v1/cdp/traits/${id}`,
      JSON.stringify({ traitKey: 'huge', traitValue: 'x'.repeat(50 * 1024 * 1024), traitType: 'BEHAVIORAL' }),
    );
    expect(huge.status).toBe(413);
    expect((await huge.json()).error).toMatchObject({
      code: 'request_too_large',
      message: 'A request must be at most 1 MB',
    });
    const event = await cdpText(
      'POST',
      '/api/v1/cdp/events/track',
      JSON.stringify({
        customerId: id,
        eventType: 'CUSTOM',
        eventName: 'big',
        properties: { blob: 'x'.repeat(40 * 1024) },
      }),
    );
    expect(event.status).toBe(413);
    expect((await event.json()).error.code).toBe('event_too_large');
    // Refused for its body, a request is still audited.
    await h.app.audit.flush();
    const audited = await h.database.db
      .select({ status: auditLog.status, outcome: auditLog.outcome })
      .from(auditLog)
      .where(eq(auditLog.customerId, id));
    expect(audited).toEqual(expect.arrayContaining([{ status: 413, outcome: 'refused' }]));
    const chunks = new ReadableStream({
      start(controller) {
        for (let i = 0; i < 3; i++) controller.enqueue(new TextEncoder().encode(' '.repeat(512 * 1024)));
        controller.close();
      },
    });
    const chunked = note(
      'chunked',
      await h.app.request(`/api/v1/cdp/traits/${id}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${API_KEY}` },
        body: chunks,
        duplex: 'half',
      } as RequestInit),
    );
    expect(chunked.status).toBe(413);
  });

  describe('over a real socket', () => {
    let url: string;
    let close: () => Promise<void>;
    beforeAll(async () => {
      const server = serve({ fetch: h.app.fetch, port: 0, hostname: '127.0.0.1', serverOptions: SERVER_OPTIONS });
      await new Promise<void>((resolve) => server.once('listening', resolve));
      url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      close = () =>
        new Promise((resolve) => {
          (server as { closeAllConnections?: () => void }).closeAllConnections?.();
          server.close(() => resolve());
        });
    });
    afterAll(() => close?.());

    const alive = async () => {
      const res = await fetch(`${url}/health`);
      expect(res.status).toBe(200);
    };

    it('answers headers over 16 KB with 431 and goes on serving', async () => {
      for (const headers of [{ 'x-big': 'x'.repeat(20 * 1024) }, { 'user-agent': 'Mozilla/5.0 '.repeat(2000) }]) {
        const status = await new Promise<number>((resolve, reject) => {
          const req = request(`${url}/v1/track`, { method: 'POST', agent: false, headers }, (res) => {
            res.resume();
            resolve(res.statusCode ?? 0);
          });
          req.on('error', reject);
          req.end('{}');
        });
        statuses.push({ what: 'huge header', status });
        expect(status).toBe(431);
      }
      await alive();
    });

    /**
     * Streams up to `total` bytes to a CDP route and reports what the server answered and how much
     * the client had written when the answer came (or the server closed the connection).
     */
    const stream = (path: string, total: number, declared: boolean) =>
      new Promise<{ status: number; written: number }>((resolve, reject) => {
        let written = 0;
        let status = 0;
        let done = false;
        const finish = () => {
          if (done) return;
          done = true;
          resolve({ status, written });
        };
        const req = request(`${url}${path}`, {
          method: 'POST',
          agent: false,
          headers: {
            'content-type': 'application/json',
            authorization: path.startsWith('/v1') ? basicAuth(WRITE_KEY) : `Bearer ${API_KEY}`,
            ...(declared ? { 'content-length': String(total) } : {}),
          },
        });
        req.on('response', (res) => {
          status = res.statusCode ?? 0;
          res.resume();
          res.on('end', finish);
        });
        req.on('error', () => (status ? finish() : reject(new Error(`no answer after ${written} bytes`))));
        const chunk = Buffer.alloc(1024 * 1024, 0x20);
        const pump = () => {
          while (!done && written < total && !req.destroyed) {
            written += chunk.length;
            if (!req.write(chunk)) return void req.once('drain', pump);
          }
          if (written >= total) req.end();
        };
        pump();
      });

    it('refuses a 200 MB body to the CDP API or /v1/batch with 413 without reading it whole, declared or chunked', async () => {
      const before = process.memoryUsage().rss;
      for (const [path, declared] of [
        ['/api/v1/cdp/segments', true],
        ['/api/v1/cdp/segments', false],
        ['/v1/batch', true],
        ['/v1/batch', false],
      ] as const) {
        const { status, written } = await stream(path, 200 * 1024 * 1024, declared);
        statuses.push({ what: '200 MB body', status });
        expect(status).toBe(413);
        // The server answered and closed the connection long before the client could send it all.
        expect(written).toBeLessThan(100 * 1024 * 1024);
      }
      expect(process.memoryUsage().rss - before).toBeLessThan(150 * 1024 * 1024);
      await alive();
    });
  });
});
