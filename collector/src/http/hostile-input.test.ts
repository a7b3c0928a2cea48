import { inArray } from 'drizzle-orm';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { identifyCustomer } from '../../test/customers';
import { testDatabases } from '../../test/databases';
import { useApp, WRITE_KEY } from '../../test/harness';
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

describe.each(testDatabases)('hostile input on $name', (db) => {
  const h = useApp(db, { RATE_LIMIT_PER_SECOND: 100_000 });

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
    let stored = 0;
    for (let i = 0; i < validIds.length; i += 500) {
      const chunk = validIds.slice(i, i + 500);
      stored += (
        await h.database.db
          .select({ id: customerEvents.id })
          .from(customerEvents)
          .where(inArray(customerEvents.messageId, chunk))
      ).length;
    }
    expect(stored).toBe(validIds.length);
  }, 300_000);
});
