import { execFile } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import Rudder from '@rudderstack/rudder-sdk-node';
import { Analytics as SegmentAnalytics } from '@segment/analytics-node';
import { testDatabases } from '@tributary/collector/test/databases';
import { type RunningCollector, startCollector } from '@tributary/collector/test/start-collector';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * Segment's and RudderStack's Node libraries, as published on npm and unchanged, against the real
 * collector on a real socket: what each sends is stored, and reads back through the CDP API as one
 * customer. What they send (recorded): all three POST /v1/batch with the write key as Basic auth.
 * @segment/analytics-node: JSON with `writeKey` in the body too, one batch on closeAndFlush.
 * analytics-node 6: JSON, the first call alone at once and the rest on flush. rudder-sdk-node:
 * the same batching, the body gzipped under `Content-Type: application/x-www-form-urlencoded`, calls
 * with `originalTimestamp` instead of `timestamp` and identify's traits also in `context.traits`.
 */

type Ack = (err?: unknown) => void;
type Properties = Record<string, string | number>;

/** The calls of one visit, in the shapes all three libraries take. */
interface Tracker {
  page(message: { anonymousId: string; name: string; category?: string; properties: Properties }, ack: Ack): unknown;
  track(message: { anonymousId: string; event: string; properties: Properties }, ack: Ack): unknown;
  identify(message: { userId: string; anonymousId: string; traits: Properties }, ack: Ack): unknown;
  group(message: { userId: string; groupId: string; traits: Properties }, ack: Ack): unknown;
  alias(message: { userId: string; previousId: string }, ack: Ack): unknown;
}

/** analytics-node 6 ships no types: the part of its API used here. */
type LegacyAnalytics = Tracker & { flush(callback?: Ack): Promise<unknown> };
const LegacyAnalytics = createRequire(import.meta.url)('analytics-node') as new (
  writeKey: string,
  options: { host: string },
) => LegacyAnalytics;

/** One person: a visit on their phone, then one on their laptop where they log in. */
interface Visitor {
  phoneAnonymousId: string;
  anonymousId: string;
  userId: string;
  email: string;
  groupId: string;
}

const visitor = (label: string): Visitor => {
  const id = `${label}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
  return {
    phoneAnonymousId: `phone-${id}`,
    anonymousId: `laptop-${id}`,
    userId: `user-${id}`,
    email: `ada.${id}@example.com`,
    groupId: `acme-${id}`,
  };
};

/**
 * Makes the visit's calls the way an application does (none awaited: the library queues and
 * batches them) and answers, per call, the promise of the library's acknowledgement: the error
 * it reports, or undefined once the collector accepted the batch holding it.
 */
function visit(tracker: Tracker, v: Visitor): Promise<unknown>[] {
  const acked = (send: (ack: Ack) => unknown) => new Promise<unknown>((resolve) => send(resolve));
  return [
    acked((ack) => tracker.page({ anonymousId: v.phoneAnonymousId, name: 'Home', properties: { path: '/' } }, ack)),
    acked((ack) =>
      tracker.page(
        {
          anonymousId: v.anonymousId,
          name: 'Pricing',
          category: 'Marketing',
          properties: { path: '/pricing', referrer: 'https://news.example/' },
        },
        ack,
      ),
    ),
    acked((ack) =>
      tracker.track(
        { anonymousId: v.anonymousId, event: 'Plan Viewed', properties: { plan: 'pro', price: 49, currency: 'EUR' } },
        ack,
      ),
    ),
    acked((ack) =>
      tracker.identify(
        { userId: v.userId, anonymousId: v.anonymousId, traits: { email: v.email, name: 'Ada Lovelace', plan: 'pro' } },
        ack,
      ),
    ),
    acked((ack) =>
      tracker.group({ userId: v.userId, groupId: v.groupId, traits: { name: 'Acme', employees: 40 } }, ack),
    ),
    acked((ack) => tracker.alias({ userId: v.userId, previousId: v.phoneAnonymousId }, ack)),
  ];
}

const reported = async (acks: Promise<unknown>[]) => (await Promise.all(acks)).filter((e) => e !== undefined);

interface NodeClient {
  name: string;
  /** Sends the visit with the library's defaults but its host, flushes, and answers the errors it reported. */
  send(collector: RunningCollector, v: Visitor): Promise<unknown[]>;
}

const clients: NodeClient[] = [
  {
    name: '@segment/analytics-node 3.1.0',
    async send(collector, v) {
      const analytics = new SegmentAnalytics({ writeKey: collector.writeKey, host: collector.url });
      const errors: unknown[] = [];
      analytics.on('error', (e) => errors.push(e));
      const acks = visit(analytics, v);
      await analytics.closeAndFlush({ timeout: 20_000 });
      return [...errors, ...(await reported(acks))];
    },
  },
  {
    name: 'analytics-node 6.2.0',
    async send(collector, v) {
      const analytics = new LegacyAnalytics(collector.writeKey, { host: collector.url });
      // It sends the first call at once and queues the rest until flushAt (20) or flushInterval (10 s).
      const acks = visit(analytics, v);
      // A refused batch rejects the flush and leaves the calls queued behind it unacknowledged.
      const refusal = await analytics.flush().then(
        () => undefined,
        (e: unknown) => e,
      );
      return refusal ? [refusal] : reported(acks);
    },
  },
  {
    name: '@rudderstack/rudder-sdk-node 3.0.13',
    async send(collector, v) {
      // The second argument's dataPlaneUrl replaces RudderStack's hosted data plane. gzip stays on (the default).
      const analytics = new Rudder(collector.writeKey, { dataPlaneUrl: collector.url, logLevel: 'error' });
      expect((analytics as unknown as { gzip: boolean }).gzip).toBe(true);
      const acks = visit(analytics, v);
      // A refused batch rejects the flush and leaves the calls queued behind it unacknowledged.
      const refusal = await analytics.flush().then(
        () => undefined,
        (e: unknown) => e,
      );
      return refusal ? [refusal] : reported(acks);
    },
  },
];

interface StoredEvent {
  callType: string;
  eventType: string;
  eventName: string;
  anonymousId: string | null;
  userId: string | null;
  properties: Record<string, unknown>;
  metadata: Record<string, unknown> | null;
  originalTimestamp: string | null;
}
interface Identity {
  identityType: string;
  identityValue: string;
}
interface Trait {
  traitKey: string;
  traitValue: unknown;
  traitType: string;
  source: string | null;
}
interface Customer360 {
  customer: { id: string; email: string | null; firstName: string | null; lastName: string | null };
  identities: Identity[];
  traits: Trait[];
  recentEvents: StoredEvent[];
}

/** What the CDP API says about the customer a userId names, and whose its anonymous IDs are. */
async function readBack(collector: RunningCollector, v: Visitor) {
  const cdp = <T>(path: string) => collector.api<T>(`/api/v1/cdp${path}`);
  const owner = async (type: string, value: string) =>
    (
      await cdp<{ customerId: string }>(
        `/identity/resolve?identityType=${type}&identityValue=${encodeURIComponent(value)}`,
      )
    ).customerId;
  const customerId = await owner('EXTERNAL_ID', v.userId);
  return {
    customerId,
    owners: [await owner('COOKIE_ID', v.anonymousId), await owner('COOKIE_ID', v.phoneAnonymousId)],
    events: (await cdp<{ events: StoredEvent[] }>(`/events?customerId=${customerId}&limit=100`)).events,
    identities: (await cdp<{ identities: Identity[] }>(`/identities/${customerId}`)).identities,
    traits: (await cdp<{ traits: Trait[] }>(`/traits/${customerId}`)).traits,
    view: await cdp<Customer360>(`/customer360/${customerId}`),
  };
}

const byCall = (a: StoredEvent, b: StoredEvent) =>
  `${a.callType} ${a.eventName} ${a.anonymousId}`.localeCompare(`${b.callType} ${b.eventName} ${b.anonymousId}`);

describe.each(testDatabases)('the Node libraries against the collector on $name', (db) => {
  let collector: RunningCollector;
  beforeAll(async () => {
    collector = await startCollector({ database: await db.open() });
  });
  afterAll(() => collector?.close());

  it.each(clients)('$name: every call stored, traits kept, the visits stitched to one customer', async (client) => {
    const v = visitor(client.name.split(/[ /@]/).filter(Boolean)[0] ?? 'client');
    const sentFrom = Date.now();
    expect(await client.send(collector, v)).toEqual([]);
    const sentUntil = Date.now();

    const { customerId, owners, events, identities, traits, view } = await readBack(collector, v);
    // Both anonymous histories belong to the customer of the userId: the laptop's by identify, the phone's by alias.
    expect(owners).toEqual([customerId, customerId]);

    const stored = [...events].sort(byCall).map((e) => ({
      callType: e.callType,
      eventType: e.eventType,
      eventName: e.eventName,
      anonymousId: e.anonymousId,
      userId: e.userId,
      properties: e.properties,
    }));
    expect(stored).toEqual([
      expect.objectContaining({ callType: 'alias', eventName: 'alias', userId: v.userId }),
      expect.objectContaining({ callType: 'group', eventName: 'group', userId: v.userId }),
      expect.objectContaining({
        callType: 'identify',
        eventName: 'identify',
        userId: v.userId,
        anonymousId: v.anonymousId,
      }),
      {
        callType: 'page',
        eventType: 'PAGE_VIEW',
        eventName: 'Home',
        anonymousId: v.phoneAnonymousId,
        userId: null,
        properties: expect.objectContaining({ path: '/' }),
      },
      {
        callType: 'page',
        eventType: 'PAGE_VIEW',
        eventName: 'Pricing',
        anonymousId: v.anonymousId,
        userId: null,
        properties: expect.objectContaining({ path: '/pricing', referrer: 'https://news.example/' }),
      },
      {
        callType: 'track',
        eventType: 'CUSTOM',
        eventName: 'Plan Viewed',
        anonymousId: v.anonymousId,
        userId: null,
        properties: { plan: 'pro', price: 49, currency: 'EUR' },
      },
    ]);
    // The time the library stamped each call (`timestamp`, or rudder's `originalTimestamp`) is kept.
    for (const e of events) {
      expect(Date.parse(e.originalTimestamp ?? '')).toBeGreaterThanOrEqual(sentFrom);
      expect(Date.parse(e.originalTimestamp ?? '')).toBeLessThanOrEqual(sentUntil);
    }
    const group = events.find((e) => e.callType === 'group');
    expect(group?.metadata).toMatchObject({ groupId: v.groupId, traits: { name: 'Acme', employees: 40 } });
    const alias = events.find((e) => e.callType === 'alias');
    expect(alias?.metadata).toMatchObject({ previousId: v.phoneAnonymousId });

    expect(identities.map((i) => `${i.identityType} ${i.identityValue}`).sort()).toEqual(
      [
        `COOKIE_ID ${v.anonymousId}`,
        `COOKIE_ID ${v.phoneAnonymousId}`,
        `EMAIL ${v.email}`,
        `EXTERNAL_ID ${v.userId}`,
      ].sort(),
    );
    // The identify's traits, and not the group's (those describe the company).
    const traitValues = Object.fromEntries(traits.map((t) => [t.traitKey, [t.traitValue, t.source]]));
    expect(traitValues).toEqual({
      email: [v.email, 'identify'],
      name: ['Ada Lovelace', 'identify'],
      plan: ['pro', 'identify'],
    });

    expect(view.customer).toMatchObject({ id: customerId, email: v.email, firstName: 'Ada', lastName: 'Lovelace' });
    expect(view.identities).toHaveLength(4);
    expect(view.traits.map((t) => t.traitKey).sort()).toEqual(['email', 'name', 'plan']);
    expect(view.recentEvents.map((e) => e.eventName).sort()).toEqual(
      ['Home', 'Plan Viewed', 'Pricing', 'alias', 'group', 'identify'].sort(),
    );
  });
});

/**
 * rudder-sdk-node flushes its first call at once, from inside `track`, and nothing catches that
 * promise: when the collector refused the batch (a 400 for its gzip body, before the collector read
 * gzip) the rejection went unhandled and Node ended the application. Run as an application runs it,
 * in a process of its own with the library's defaults.
 */
describe('rudder-sdk-node in a host process of its own', () => {
  let collector: RunningCollector;
  beforeAll(async () => {
    collector = await startCollector();
  });
  afterAll(() => collector?.close());

  const host = `
    const Analytics = require('@rudderstack/rudder-sdk-node');
    const analytics = new Analytics(process.env.WRITE_KEY, { dataPlaneUrl: process.env.COLLECTOR_URL });
    const anonymousId = process.env.ANONYMOUS_ID;
    analytics.track({ anonymousId, event: 'Host Alive', properties: { n: 1 } });
    analytics.track({ anonymousId, event: 'Host Alive', properties: { n: 2 } });
    analytics.flush(() => console.log('flushed'));
  `;
  const runHost = (writeKey: string, anonymousId: string) =>
    new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      execFile(
        process.execPath,
        ['-e', host],
        {
          // The library resolves from this package, as it would from an application's.
          cwd: fileURLToPath(new URL('..', import.meta.url)),
          env: { ...process.env, WRITE_KEY: writeKey, COLLECTOR_URL: collector.url, ANONYMOUS_ID: anonymousId },
          timeout: 20_000,
        },
        (error, stdout, stderr) => resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
      );
    });

  it('delivers gzip batches and the process ends normally', async () => {
    const anonymousId = `host-${Date.now().toString(36)}`;
    const { code, stdout, stderr } = await runHost(collector.writeKey, anonymousId);
    expect({ code, stdout: stdout.trim(), stderr }).toEqual({ code: 0, stdout: 'flushed', stderr: '' });
    const rows = await collector.query<{ n: number | string }>(
      `select count(*) as n from customer_events where anonymous_id = '${anonymousId}' and event_name = 'Host Alive'`,
    );
    expect(Number(rows[0]?.n)).toBe(2);
  });

  it('still ends its host on any refusal, so the exit code above means something (a wrong write key: 401)', async () => {
    const { code, stderr } = await runHost('wk_not_a_real_key_anywhere', `host-refused-${Date.now().toString(36)}`);
    expect(code).toBe(1);
    expect(stderr).toMatch(/Error: Unauthorized/);
  });
});
