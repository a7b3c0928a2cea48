import { CALL_TYPES } from '@tributary/spec';
import { inArray } from 'drizzle-orm';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { identifyCustomer } from '../../test/customers';
import { testDatabases } from '../../test/databases';
import { basicAuth, type Harness, type Json, useApp, WRITE_KEY } from '../../test/harness';
import { POISON_NAMES as POISON } from '../../test/poison-names';
import { customerEvents } from '../db/schema';

/** Every route of the collector, as method and path template. */
const ROUTES = [
  ...['track', 'identify', 'page', 'screen', 'group', 'alias', 'batch'].map((t) => ['POST', `/v1/${t}`]),
  ['POST', '/api/v1/cdp/identities/merge'],
  ['POST', '/api/v1/cdp/identities/{customerId}'],
  ['GET', '/api/v1/cdp/identities/{customerId}'],
  ['GET', '/api/v1/cdp/identity/resolve'],
  ['POST', '/api/v1/cdp/identities/{customerId}/verify'],
  ['POST', '/api/v1/cdp/identities/{customerId}/set-primary'],
  ['GET', '/api/v1/cdp/customer360/{customerId}'],
  ['POST', '/api/v1/cdp/customer360/{customerId}/compute-engagement'],
  ['POST', '/api/v1/cdp/customer360/{customerId}/compute-ltv'],
  ['POST', '/api/v1/cdp/traits/{customerId}/compute-engagement'],
  ['POST', '/api/v1/cdp/traits/{customerId}'],
  ['POST', '/api/v1/cdp/traits/{customerId}/batch'],
  ['GET', '/api/v1/cdp/traits/{customerId}'],
  ['GET', '/api/v1/cdp/traits/{customerId}/{traitKey}'],
  ['DELETE', '/api/v1/cdp/traits/{customerId}/{traitKey}'],
  ['POST', '/api/v1/cdp/consents/{customerId}'],
  ['GET', '/api/v1/cdp/consents/{customerId}'],
  ['GET', '/api/v1/cdp/consents/{customerId}/history'],
  ['GET', '/api/v1/cdp/consents/{customerId}/{consentType}'],
  ['POST', '/api/v1/cdp/segments'],
  ['GET', '/api/v1/cdp/segments'],
  ['GET', '/api/v1/cdp/segments/{segmentId}'],
  ['PATCH', '/api/v1/cdp/segments/{segmentId}'],
  ['DELETE', '/api/v1/cdp/segments/{segmentId}'],
  ['GET', '/api/v1/cdp/segments/{segmentId}/members'],
  ['POST', '/api/v1/cdp/segments/{segmentId}/members/{customerId}'],
  ['POST', '/api/v1/cdp/segments/{segmentId}/evaluate'],
  ['POST', '/api/v1/cdp/events/track'],
  ['GET', '/api/v1/cdp/events'],
  ['GET', '/api/v1/cdp/events/{customerId}/recent'],
  ['POST', '/api/v1/admin/keys'],
  ['GET', '/api/v1/admin/keys'],
  ['GET', '/api/v1/admin/audit'],
  ['POST', '/api/v1/admin/regulations'],
  ['GET', '/api/v1/admin/regulations/{regulationId}'],
  ['PUT', '/api/v1/admin/retention/{eventType}'],
  ['GET', '/api/v1/admin/customers/{customerId}/export'],
] as const;

const FIELDS = [
  'userId',
  'anonymousId',
  'event',
  'type',
  'messageId',
  'timestamp',
  'sentAt',
  'context',
  'properties',
  'traits',
  'batch',
  'groupId',
  'previousId',
  'customerId',
  'eventType',
  'eventName',
  'identityType',
  'identityValue',
  'traitKey',
  'traitValue',
  'consentType',
  'granted',
  'expiresAt',
  'rules',
  'segmentType',
  'name',
  'kind',
  'regulationType',
  'days',
  'limit',
  'page',
  'startDate',
  'endDate',
  'sourceCustomerId',
  'targetCustomerId',
  'mergeStrategy',
  'writeKey',
];

const hostileString = fc.oneof(
  fc.string({ unit: 'grapheme', maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.constantFrom(
    '',
    ' ',
    'null',
    'undefined',
    '-1',
    'NaN',
    '[object Object]',
    "'; drop table customers; --",
    '../../etc/passwd',
    '%00',
    '\u0000',
    '\ud800',
    '\udfff',
    '\u202e',
    '<script>alert(1)</script>',
    '9'.repeat(400),
    'x'.repeat(40_000),
    '2024-13-45',
    '+275760-09-13T00:00:00.000Z',
    '1e309',
    '0x1F',
    'EMAIL',
    'PAGE_VIEW',
    'STATIC',
  ),
);
const hostileValue: fc.Arbitrary<unknown> = fc.oneof(
  hostileString,
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.jsonValue({ maxDepth: 4 }),
  fc.array(hostileString, { maxLength: 5 }),
  fc.constant(Array.from({ length: 3000 }, (_, i) => ({ type: 'track', event: i }))),
  // Deep nesting, as a parser bomb would send it.
  fc.integer({ min: 50, max: 3000 }).map((d) => JSON.parse(`${'['.repeat(d)}1${']'.repeat(d)}`)),
);
const hostileObject = fc.dictionary(fc.oneof(fc.constantFrom(...FIELDS), fc.string({ maxLength: 8 })), hostileValue, {
  maxKeys: 8,
});
const body = fc.oneof(
  hostileObject.map((o) => JSON.stringify(o)),
  hostileValue.map((v) => JSON.stringify(v) ?? 'null'),
  fc.string({ maxLength: 200 }), // not JSON at all
  fc.constant('{"batch": ['),
);

/** Text for a call's fields: mostly short and hostile, rarely over the 32 KB an event may take. */
const poisonText = fc.oneof(
  { weight: 30, arbitrary: fc.string({ unit: 'grapheme', maxLength: 24 }) },
  { weight: 15, arbitrary: fc.string({ unit: 'binary', maxLength: 12 }) },
  {
    weight: 15,
    arbitrary: fc.constantFrom(...POISON, '', ' ', '\u0000', '\ud800', '\udfff', '\u202e', 'x'.repeat(600), '1e309'),
  },
  { weight: 1, arbitrary: fc.constant('x'.repeat(40_000)) },
);
const poisonKey = fc.oneof(
  fc.string({ maxLength: 8 }),
  fc.string({ unit: 'binary', maxLength: 6 }),
  fc.constantFrom(...POISON, '', 'k\u0000', '\ud800'),
);
/** An object of up to `n` members (duplicate keys collapse), cheaper to generate than fc.dictionary's unique keys. */
const object = (value: fc.Arbitrary<unknown>, n: number) =>
  fc.array(fc.tuple(poisonKey, value), { maxLength: n }).map((entries) => Object.fromEntries(entries));
const jsonValue: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    poisonText,
    fc.integer(),
    fc.double(),
    fc.boolean(),
    fc.constant(null),
    fc.array(tie('value'), { maxLength: 4 }),
    object(tie('value'), 5),
  ),
})).value;
/** A value nested this deep, written into the body's text (JSON.stringify cannot write 8,000 levels). */
const DEEP = /"@@deep:(\d+)@@"/g;
const deepValue = fc
  .oneof({ weight: 9, arbitrary: fc.integer({ min: 20, max: 60 }) }, { weight: 1, arbitrary: fc.constant(7000) })
  .map((d) => `@@deep:${d}@@`);
const properties = object(fc.oneof({ weight: 9, arbitrary: jsonValue }, { weight: 1, arbitrary: deepValue }), 6);
/** One Segment call, hostile in every field; consent it carries only grants, so nothing accepted is left out. */
const hostileCall = fc.record(
  {
    type: fc.oneof({ weight: 5, arbitrary: fc.constantFrom(...CALL_TYPES) }, { weight: 1, arbitrary: poisonText }),
    userId: fc.oneof(poisonText, fc.integer()),
    anonymousId: poisonText,
    event: poisonText,
    name: poisonText,
    groupId: poisonText,
    previousId: poisonText,
    properties,
    traits: object(jsonValue, 6),
    integrations: object(jsonValue, 3),
    timestamp: fc.oneof(
      fc
        .date({ min: new Date('2020-01-01'), max: new Date('2030-01-01'), noInvalidDate: true })
        .map((d) => d.toISOString()),
      poisonText,
    ),
    context: fc.record(
      {
        consent: fc.record({ categoryPreferences: object(fc.constant(true), 4) }),
        page: properties,
        traits: object(jsonValue, 4),
        userAgent: poisonText,
        ip: poisonText,
      },
      { requiredKeys: [] },
    ),
  },
  { requiredKeys: ['type'] },
);
/** A tracking request: a batch of a few calls, or one call to its own endpoint. */
const trackingPayload = fc.oneof(
  fc.array(hostileCall, { minLength: 1, maxLength: 6 }).map((calls) => ({ endpoint: 'batch', calls })),
  hostileCall.map((call) => ({
    endpoint: (CALL_TYPES as readonly string[]).includes(call.type) ? call.type : 'track',
    calls: [call],
  })),
);

/** How many of these messageIds are stored, asked in chunks (a statement takes at most so many parameters). */
async function storedCount(h: Harness, messageIds: readonly string[]) {
  let stored = 0;
  for (let i = 0; i < messageIds.length; i += 1000) {
    const chunk = messageIds.slice(i, i + 1000);
    const rows = await h.database.db
      .select({ id: customerEvents.id })
      .from(customerEvents)
      .where(inArray(customerEvents.messageId, chunk));
    stored += rows.length;
  }
  return stored;
}

describe.each(testDatabases)('hostile input on $name', (db) => {
  const h = useApp(db, { RATE_LIMIT_PER_SECOND: 100_000 });

  it('answers 10,000 generated tracking payloads without a 5xx, and stores every event it accepts', async () => {
    const mustBeStored: string[] = [];
    const failures: string[] = [];
    let sent = 0;
    let accepted = 0;
    await fc.assert(
      // 100 requests at once, as many clients would send them: they share the writer's flushes.
      fc.asyncProperty(fc.array(trackingPayload, { minLength: 100, maxLength: 100 }), async (payloads) => {
        await Promise.all(
          payloads.map(async ({ endpoint, calls }) => {
            const ids = calls.map(() => crypto.randomUUID());
            const events = calls.map((call, i) => ({ ...call, messageId: ids[i] }));
            const json = endpoint === 'batch' ? JSON.stringify({ batch: events }) : JSON.stringify(events[0]);
            const text = json.replace(DEEP, (_, d) => `${'['.repeat(Number(d))}1${']'.repeat(Number(d))}`);
            const res = await h.app.request(`/v1/${endpoint}`, {
              method: 'POST',
              headers: { authorization: basicAuth(WRITE_KEY), 'content-type': 'application/json' },
              body: text,
            });
            sent++;
            const body = (await res.json().catch(() => null)) as Json;
            if (res.status >= 500) failures.push(`${endpoint} answered ${res.status}: ${text.slice(0, 300)}`);
            else if (res.status >= 400 && typeof body?.error?.code !== 'string')
              failures.push(`${endpoint} answered ${res.status} without a JSON error`);
            if (res.status !== 200) return;
            const refused = new Set<number>((body.refused ?? []).map((r: Json) => r.index));
            if (body.count !== calls.length - refused.size)
              failures.push(`count ${body.count} for ${text.slice(0, 300)}`);
            accepted += body.count;
            ids.forEach((id, i) => {
              if (!refused.has(i)) mustBeStored.push(id as string);
            });
          }),
        );
        return failures.length === 0;
      }),
      { numRuns: 100, endOnFailure: true },
    );
    expect(failures).toEqual([]);
    expect(sent).toBe(10_000);
    // Hostile as the calls are, many are valid: the check below has something to check.
    expect(accepted).toBeGreaterThan(1_000);
    await h.app.writer.idle();
    expect(await storedCount(h, mustBeStored)).toBe(mustBeStored.length);
  }, 300_000);

  it('answers thousands of malformed requests with a 4xx JSON error, never a 5xx, and loses no valid event', async () => {
    const customerId = await identifyCustomer(h, `fuzz-${crypto.randomUUID()}`);
    const param = fc.oneof(
      fc.constant(customerId),
      fc.uuid(),
      hostileString.map((s) => encodeURIComponent(s.toWellFormed()).slice(0, 2000)),
      fc.constantFrom('%', '%zz', '%E0%A4%A', '%2e%2e', '..', '%00'),
    );
    const request = fc.record({
      route: fc.constantFrom(...ROUTES),
      params: fc.array(param, { minLength: 3, maxLength: 3 }),
      query: fc.dictionary(fc.constantFrom(...FIELDS), hostileString, { maxKeys: 4 }),
      body,
      contentType: fc.constantFrom('application/json', 'text/plain', 'application/x-www-form-urlencoded'),
    });

    const validIds: string[] = [];
    const failures: string[] = [];
    let sent = 0;
    let refused = 0;
    await fc.assert(
      fc.asyncProperty(request, async ({ route: [method, template], params, query, body, contentType }) => {
        let i = 0;
        const path = template.replace(/\{\w+\}/g, () => params[i++] ?? '');
        const qs = new URLSearchParams(query).toString();
        const isTracking = path.startsWith('/v1/');
        const auth = isTracking
          ? `Basic ${Buffer.from(`${WRITE_KEY}:`).toString('base64')}`
          : 'Bearer sk_test_api_key_1_24chars';
        const valid = crypto.randomUUID();
        validIds.push(valid);
        const [res, ok] = await Promise.all([
          h.app.request(`${path}${qs ? `?${qs}` : ''}`, {
            method,
            headers: { authorization: auth, 'content-type': contentType },
            ...(method === 'GET' || method === 'DELETE' ? {} : { body }),
          }),
          h.send('track', { anonymousId: 'fuzz-valid', event: 'Valid', messageId: valid }),
        ]);
        sent++;
        if (ok.status !== 200) failures.push(`valid event answered ${ok.status}`);
        if (res.status >= 500) failures.push(`${method} ${path} answered ${res.status}: ${body.slice(0, 200)}`);
        if (res.status >= 400) {
          refused++;
          const json = (await res.json().catch(() => null)) as { error?: { code?: unknown } } | null;
          if (typeof json?.error?.code !== 'string')
            failures.push(`${method} ${path} ${res.status} without a JSON error`);
        }
        return failures.length === 0;
      }),
      { numRuns: 1500, endOnFailure: true },
    );
    expect(failures).toEqual([]);
    expect(sent).toBe(1500);
    // The generator makes mostly malformed requests: most must have been refused, not let through.
    expect(refused).toBeGreaterThan(sent * 0.8);

    // Every request was audited, hostile paths included, and the trail could store all of it.
    await h.app.audit.flush();
    expect(h.app.audit.pending).toBe(0);

    await h.app.writer.idle();
    expect(await storedCount(h, validIds)).toBe(validIds.length);
  }, 300_000);
});
