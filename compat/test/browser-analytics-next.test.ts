import type { AnalyticsBrowser } from '@segment/analytics-next';
import { testDatabases } from '@tributary/collector/test/databases';
import { type RunningCollector, startCollector } from '@tributary/collector/test/start-collector';
import type { BrowserContext } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { launchOfflineChromium, type NetworkWatch, type OfflineChromium, watchNetwork } from './browser-chromium';
import { startCollectorProxy } from './browser-collector-proxy';
import { type Site, serveSite } from './browser-site';
import { expectVisitorStored, newVisitor, VISIT_CALLS, type Visitor } from './browser-visitor';
import { readBackCustomer } from './read-back';

// @segment/analytics-next from npm, unchanged, bundled into a page on another origin than the
// collector and run in Chromium: its default delivery, its batching, and its retry after a 503.

/** It sends alias(to) after identify with the current userId, not `to` (see Quirks). */
const quirks = { aliasKeepsUserId: true };

interface VisitOptions {
  writeKey: string;
  /** Segment's `apiHost`: host, port and path, no scheme. */
  apiHost: string;
  visitor: Visitor;
  deliveryStrategy?: { strategy: 'standard' | 'batching'; config?: { size?: number; timeout?: number } };
}

/**
 * Runs in the page: loads analytics.js with its settings given inline (no CDN), makes the visit's
 * calls one after the other as a site would, and answers the anonymous ID it gave the visitor.
 */
async function visit({ writeKey, apiHost, visitor, deliveryStrategy }: VisitOptions): Promise<string | null> {
  const page = globalThis as unknown as { AnalyticsBrowser: typeof AnalyticsBrowser };
  const [analytics] = await page.AnalyticsBrowser.load({
    writeKey,
    cdnSettings: {
      integrations: {
        'Segment.io': { apiKey: writeKey, apiHost, protocol: 'http', ...(deliveryStrategy && { deliveryStrategy }) },
      },
    },
  });
  await analytics.page(visitor.page.category, visitor.page.name, visitor.page.properties);
  await analytics.track(visitor.track.event, visitor.track.properties);
  await analytics.identify(visitor.userId, visitor.traits);
  await analytics.group(visitor.groupId, visitor.groupTraits);
  await analytics.alias(visitor.aliasTo);
  return analytics.user().anonymousId() ?? null;
}

let chromium: OfflineChromium;
let site: Site;

beforeAll(async () => {
  [chromium, site] = await Promise.all([
    launchOfflineChromium(),
    serveSite(
      `import { AnalyticsBrowser } from '@segment/analytics-next'; window.AnalyticsBrowser = AnalyticsBrowser;`,
    ),
  ]);
});

afterAll(async () => {
  await Promise.all([chromium?.close(), site?.close()]);
});

describe.each(testDatabases)('@segment/analytics-next in Chromium, on $name', (testDatabase) => {
  let collector: RunningCollector;
  const contexts: BrowserContext[] = [];

  beforeAll(async () => {
    collector = await startCollector({ database: await testDatabase.open() });
  });

  afterAll(async () => {
    await Promise.all(contexts.map((c) => c.close()));
    await collector?.close();
  });

  /** A fresh visitor's browser (no cookies, no storage) on the site, and what its requests reach. */
  async function openSite() {
    const context = await chromium.browser.newContext();
    contexts.push(context);
    const network = watchNetwork(context);
    const page = await context.newPage();
    await page.goto(site.url);
    return { page, network };
  }

  /**
   * The visitor's customer read back, once the visit's events are stored. The page's refused requests
   * are checked first, even when the read back finds nothing: they say why.
   */
  const readBackVisit = (visitor: Visitor, network: NetworkWatch, refusals: string[] = []) =>
    readBackCustomer(collector, visitor.userId, { events: VISIT_CALLS.length }).finally(() => {
      expect(network.failures).toEqual(refusals);
      expect(network.leaving).toEqual([]);
    });

  test('default delivery: each call its own request, stored and stitched', async () => {
    const visitor = newVisitor('ajs-default');
    const { page, network } = await openSite();
    const apiHost = `${new URL(collector.url).host}/v1`;
    const anonymousId = await page.evaluate(visit, { writeKey: collector.writeKey, apiHost, visitor });
    expect(anonymousId).toBeTruthy();

    expectVisitorStored(await readBackVisit(visitor, network), visitor, anonymousId ?? '', quirks);
    // One-letter paths, the call type's initial.
    expect(network.posts).toEqual(['/v1/p', '/v1/t', '/v1/i', '/v1/g', '/v1/a']);
  });

  test('batching delivery: the calls in one /v1/b request, stored and stitched', async () => {
    const visitor = newVisitor('ajs-batching');
    const { page, network } = await openSite();
    const apiHost = `${new URL(collector.url).host}/v1`;
    const anonymousId = await page.evaluate(visit, {
      writeKey: collector.writeKey,
      apiHost,
      visitor,
      deliveryStrategy: { strategy: 'batching' as const, config: { size: 10, timeout: 200 } },
    });

    expectVisitorStored(await readBackVisit(visitor, network), visitor, anonymousId ?? '', quirks);
    expect(new Set(network.posts)).toEqual(new Set(['/v1/b']));
  });

  test('an identify answered 503 is sent again with X-Retry-Count, and stored', async () => {
    const visitor = newVisitor('ajs-retry');
    // The identify: the call whose loss hurts most, and one whose userId is the same whenever it is
    // resent (analytics.js fills in the userId it knows at each send: a resent page's would depend on timing).
    const proxy = await startCollectorProxy(collector.url, { refuseFirst: '/v1/i' });
    try {
      const { page, network } = await openSite();
      const anonymousId = await page.evaluate(visit, {
        writeKey: collector.writeKey,
        apiHost: `${proxy.host}/v1`,
        visitor,
      });

      const back = await readBackVisit(visitor, network, [`POST http://${proxy.host}/v1/i: 503`]);
      const refused = proxy.seen.find((r) => r.status === 503);
      const refusedId = refused && (JSON.parse(refused.body) as { messageId: string }).messageId;
      const retries = proxy.seen.filter((r) => r.method === 'POST' && r.body.includes(`"${refusedId}"`));
      expect(retries.map((r) => [r.status, r.retryCount])).toEqual([
        [503, undefined],
        [200, '1'],
      ]);
      expect(back.events.map((e) => e.messageId)).toContain(refusedId);
      expectVisitorStored(back, visitor, anonymousId ?? '', quirks);
    } finally {
      await proxy.close();
    }
  });
});
