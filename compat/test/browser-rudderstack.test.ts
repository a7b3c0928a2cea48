import type { LoadOptions, RudderAnalytics } from '@rudderstack/analytics-js';
import { testDatabases } from '@tributary/collector/test/databases';
import { type RunningCollector, startCollector } from '@tributary/collector/test/start-collector';
import type { BrowserContext } from 'playwright-core';
import type * as RudderSdkV2 from 'rudder-sdk-js';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { launchOfflineChromium, type NetworkWatch, type OfflineChromium, watchNetwork } from './browser-chromium';
import { startCollectorProxy } from './browser-collector-proxy';
import { type Site, serveSite } from './browser-site';
import { expectVisitorStored, newVisitor, VISIT_CALLS, type Visitor } from './browser-visitor';
import { readBackCustomer } from './read-back';

// RudderStack's browser SDKs from npm, unchanged, bundled into a page on another origin than the
// collector and run in Chromium: v3 (@rudderstack/analytics-js) with XHR and with sendBeacon, and the
// deprecated v2 (rudder-sdk-js) that sites still run. Neither may reach RudderStack's servers.

/**
 * What RudderStack's config server answers for a source without device-mode destinations, handed to
 * the SDKs' `getSourceConfig` so that they never fetch it.
 */
const sourceConfig = {
  source: { id: 'compat', name: 'compat', workspaceId: 'compat', enabled: true, config: {}, destinations: [] },
};

/** Where the SDKs post a visit's calls over XHR: one request per call. */
const LONG_PATHS = VISIT_CALLS.map((call) => `/v1/${call}`);

interface VisitOptions {
  writeKey: string;
  dataPlaneUrl: string;
  visitor: Visitor;
  sourceConfig: typeof sourceConfig;
  loadOptions?: Partial<LoadOptions>;
}

/**
 * Runs in the page: loads the v3 SDK (its `bundled` build carries the plugins, which the default
 * build fetches from RudderStack's CDN), makes the visit's calls, and answers the anonymous ID.
 */
async function visitV3({ writeKey, dataPlaneUrl, visitor, sourceConfig, loadOptions }: VisitOptions) {
  const page = globalThis as unknown as { RudderAnalytics: typeof RudderAnalytics };
  const analytics = new page.RudderAnalytics();
  await new Promise<void>((resolve) =>
    analytics.load(writeKey, dataPlaneUrl, {
      ...loadOptions,
      getSourceConfig: () => sourceConfig,
      onLoaded: () => resolve(),
    }),
  );
  analytics.page(visitor.page.category, visitor.page.name, visitor.page.properties);
  analytics.track(visitor.track.event, visitor.track.properties);
  analytics.identify(visitor.userId, visitor.traits);
  analytics.group(visitor.groupId, visitor.groupTraits);
  analytics.alias(visitor.aliasTo);
  return analytics.getAnonymousId() ?? null;
}

/** Runs in the page: the same visit through the v2 SDK. */
async function visitV2({ writeKey, dataPlaneUrl, visitor, sourceConfig }: VisitOptions) {
  const { rudderanalytics } = globalThis as unknown as { rudderanalytics: typeof RudderSdkV2 };
  rudderanalytics.load(writeKey, dataPlaneUrl, {
    getSourceConfig: () => sourceConfig,
    loadIntegration: false,
    polyfillIfRequired: false,
  });
  await new Promise<void>((resolve) => rudderanalytics.ready(() => resolve()));
  rudderanalytics.page(visitor.page.category, visitor.page.name, visitor.page.properties);
  rudderanalytics.track(visitor.track.event, visitor.track.properties);
  rudderanalytics.identify(visitor.userId, visitor.traits);
  rudderanalytics.group(visitor.groupId, visitor.groupTraits);
  rudderanalytics.alias(visitor.aliasTo);
  return rudderanalytics.getAnonymousId();
}

let chromium: OfflineChromium;
let sites: { v3: Site; v2: Site };

beforeAll(async () => {
  const [launched, v3, v2] = await Promise.all([
    launchOfflineChromium(),
    serveSite(
      `import { RudderAnalytics } from '@rudderstack/analytics-js/bundled'; window.RudderAnalytics = RudderAnalytics;`,
    ),
    serveSite(`import * as rudderanalytics from 'rudder-sdk-js'; window.rudderanalytics = rudderanalytics;`),
  ]);
  chromium = launched;
  sites = { v3, v2 };
});

afterAll(async () => {
  await Promise.all([chromium?.close(), sites?.v3.close(), sites?.v2.close()]);
});

describe.each(testDatabases)('RudderStack in Chromium, on $name', (testDatabase) => {
  let collector: RunningCollector;
  const contexts: BrowserContext[] = [];

  beforeAll(async () => {
    collector = await startCollector({ database: await testDatabase.open() });
  });

  afterAll(async () => {
    await Promise.all(contexts.map((c) => c.close()));
    await collector?.close();
  });

  /** A fresh visitor's browser (no cookies, no storage) on a site, and what its requests reach. */
  async function openSite(site: Site) {
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
  const readBackVisit = (visitor: Visitor, network: NetworkWatch) =>
    readBackCustomer(collector, visitor.userId, { events: VISIT_CALLS.length }).finally(() => {
      expect(network.failures).toEqual([]);
      expect(network.leaving).toEqual([]);
    });

  test('v3 over XHR: each call its own request, stored and stitched', async () => {
    const visitor = newVisitor('rs3-xhr');
    const { page, network } = await openSite(sites.v3);
    const anonymousId = await page.evaluate(visitV3, {
      writeKey: collector.writeKey,
      dataPlaneUrl: collector.url,
      visitor,
      sourceConfig,
    });
    expect(anonymousId).toBeTruthy();

    expectVisitorStored(await readBackVisit(visitor, network), visitor, anonymousId ?? '');
    expect(new Set(network.posts)).toEqual(new Set(LONG_PATHS));
  });

  test('v3 over XHR, the alias arriving before the identify: stored and stitched', async () => {
    // The SDK sends its calls at once, one request each, so they race: the alias (previousId = the
    // userId) may reach the collector before the identify and the group that carry that userId. Forced here.
    const visitor = newVisitor('rs3-race');
    const hold = { paths: ['/v1/identify', '/v1/group'], until: '/v1/alias' };
    const proxy = await startCollectorProxy(collector.url, { hold });
    try {
      const { page, network } = await openSite(sites.v3);
      const anonymousId = await page.evaluate(visitV3, {
        writeKey: collector.writeKey,
        dataPlaneUrl: `http://${proxy.host}`,
        visitor,
        sourceConfig,
      });

      expectVisitorStored(await readBackVisit(visitor, network), visitor, anonymousId ?? '');
      const { forwarded } = proxy;
      expect(forwarded.indexOf('/v1/alias')).toBeLessThan(forwarded.indexOf('/v1/identify'));
    } finally {
      await proxy.close();
    }
  });

  test('v3 with useBeacon: the calls in one sendBeacon to /beacon/v1/batch, stored and stitched', async () => {
    const visitor = newVisitor('rs3-beacon');
    const { page, network } = await openSite(sites.v3);
    const anonymousId = await page.evaluate(visitV3, {
      writeKey: collector.writeKey,
      dataPlaneUrl: collector.url,
      visitor,
      sourceConfig,
      loadOptions: { useBeacon: true, beaconQueueOptions: { flushQueueInterval: 200 } },
    });

    expectVisitorStored(await readBackVisit(visitor, network), visitor, anonymousId ?? '');
    // Not XHR in disguise: nothing went to the per-call paths.
    expect(new Set(network.posts)).toEqual(new Set(['/beacon/v1/batch']));
  });

  test('v2 (rudder-sdk-js) over XHR: each call its own request, stored and stitched', async () => {
    const visitor = newVisitor('rs2-xhr');
    const { page, network } = await openSite(sites.v2);
    const anonymousId = await page.evaluate(visitV2, {
      writeKey: collector.writeKey,
      dataPlaneUrl: collector.url,
      visitor,
      sourceConfig,
    });
    expect(anonymousId).toBeTruthy();

    expectVisitorStored(await readBackVisit(visitor, network), visitor, anonymousId ?? '');
    expect(new Set(network.posts)).toEqual(new Set(LONG_PATHS));
  });
});
