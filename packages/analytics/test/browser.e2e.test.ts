import { existsSync, readFileSync } from 'node:fs';
import { type Browser, type BrowserContext, chromium, type Page, type Request } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningCollector, startCollector } from '../../../collector/test/start-collector';
import { serveWebsite } from '../../../examples/website/server';
import type { Analytics } from '../src/browser';
import { startProxy } from './proxy';

// Real Chromium (Debian's), the real collector on a real port, the example site with the real snippet.
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const BUNDLE = new URL('../dist/analytics.min.js', import.meta.url);

let collector: RunningCollector;
let site: { url: string; close(): Promise<void> };
let browser: Browser;

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `Chromium is required at ${CHROMIUM} for the browser tests (apt-get install chromium, or set CHROMIUM_PATH)`,
    );
  }
  if (!existsSync(BUNDLE)) throw new Error('The SDK is not built: run `pnpm build` before the browser tests');
  collector = await startCollector();
  site = await serveWebsite({ collectorUrl: collector.url, writeKey: collector.writeKey });
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
});

afterAll(async () => {
  await browser?.close();
  await site?.close();
  await collector?.close();
});

interface Row {
  message_id: string;
  call_type: string;
  event_name: string;
  event_type: string;
  anonymous_id: string | null;
  user_id: string | null;
  session_id: string | null;
  context: Record<string, unknown>;
  properties: Record<string, unknown>;
}

const rowsOf = (anonymousId: string) =>
  collector.query<Row>(
    `select message_id, call_type, event_name, event_type, anonymous_id, user_id, session_id, context, properties
     from customer_events where anonymous_id = '${anonymousId}' order by timestamp, received_at, id`,
  );
const names = (rows: Row[]) => rows.map((r) => r.event_name);

/** A fresh visitor: its own cookies, localStorage and IndexedDB. Every batch request is recorded. */
async function visitor(): Promise<{ context: BrowserContext; page: Page; batches: Request[] }> {
  const context = await browser.newContext();
  const batches: Request[] = [];
  context.on('request', (r) => {
    if (r.url().endsWith('/v1/batch')) batches.push(r);
  });
  const page = await context.newPage();
  return { context, page, batches };
}

const sdkLoaded = (page: Page) => page.waitForFunction(() => window.analytics?.initialized === true);
const anonymousIdOf = async (page: Page) => {
  await sdkLoaded(page);
  return page.evaluate(() => (window.analytics as Analytics).user().anonymousId);
};
const poll = <T>(fn: () => Promise<T>) => expect.poll(fn, { timeout: 15_000, interval: 200 });

describe('the script tag in Chromium against the real collector', () => {
  it('is served by the collector, and sends page and track events with their context', async () => {
    const served = await fetch(`${collector.url}/sdk/v1/analytics.min.js`);
    expect(served.headers.get('content-type')).toMatch(/javascript/);
    expect(await served.text()).toBe(readFileSync(BUNDLE, 'utf8'));

    const { context, page } = await visitor();
    await page.goto(`${site.url}/?utm_source=newsletter&utm_campaign=spring`);
    const anonymousId = await anonymousIdOf(page);
    await page.click('#quote');
    await poll(async () => names(await rowsOf(anonymousId))).toEqual(['Page Viewed', 'Quote Requested']);

    const [pageView, quote] = await rowsOf(anonymousId);
    expect(pageView?.call_type).toBe('page');
    expect(pageView?.event_type).toBe('PAGE_VIEW');
    expect(quote?.event_type).toBe('QUOTE_REQUEST');
    expect(quote?.properties).toEqual({ label: 'Request a quote' });
    expect(quote?.context).toMatchObject({
      page: {
        path: '/',
        title: 'Home · Tributary Insurance (example)',
        search: '?utm_source=newsletter&utm_campaign=spring',
      },
      campaign: { source: 'newsletter', name: 'spring' },
      library: { name: '@tributary/analytics', version: expect.any(String) },
      locale: expect.any(String),
      timezone: expect.any(String),
      screen: { width: expect.any(Number), height: expect.any(Number) },
      userAgent: expect.stringContaining('Chrome'),
    });
    expect(quote?.session_id).toBeTruthy();
    expect(quote?.session_id).toBe(pageView?.session_id);

    // The anonymous ID lives in a first-party cookie and in localStorage.
    const cookie = (await context.cookies()).find((c) => c.name === 'tributary_anonymous_id');
    expect(cookie?.value).toBe(anonymousId);
    expect(await page.evaluate(() => localStorage.getItem('tributary_anonymous_id'))).toBe(anonymousId);
    await context.close();
  });

  it('replays calls queued before the library arrived, in order', async () => {
    const { context, page } = await visitor();
    // Hold the library back so calls made meanwhile land in the snippet's stub.
    let release = () => {};
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    await page.route('**/sdk/v1/analytics.min.js', async (route) => {
      await held;
      await route.continue();
    });
    await page.goto(`${site.url}/pricing.html`, { waitUntil: 'domcontentloaded' }); // the held script holds `load`
    await page.evaluate(() => {
      const stub = window.analytics as unknown as Analytics;
      stub.identify('replay-user', { plan: 'pro' });
      stub.track('First Queued');
      stub.track('Second Queued');
    });
    release();
    const anonymousId = await anonymousIdOf(page);
    const expected = ['identify', 'First Queued', 'Second Queued', 'Page Viewed'];
    await poll(async () => names(await rowsOf(anonymousId)).sort()).toEqual([...expected].sort());
    // The calls were made in this order, so their device timestamps never go backwards. (Storage order
    // can differ: batches in flight at once commit in any order, and calls in one millisecond tie.)
    const stamped = await collector.query<{ event_name: string; at: string }>(
      `select event_name, original_timestamp::text as at from customer_events where anonymous_id = '${anonymousId}'`,
    );
    const at = (name: string) => Date.parse(stamped.find((r) => r.event_name === name)?.at ?? '');
    for (let i = 1; i < expected.length; i++) {
      expect(at(expected[i] as string)).toBeGreaterThanOrEqual(at(expected[i - 1] as string));
    }
    const rows = await rowsOf(anonymousId);
    expect(rows.map((r) => r.user_id)).toEqual(['replay-user', 'replay-user', 'replay-user', 'replay-user']);
    await context.close();
  });

  it('identify on login stitches the anonymous history into the customer (Customer 360)', async () => {
    const { context, page } = await visitor();
    await page.goto(site.url);
    const anonymousId = await anonymousIdOf(page);
    await page.click('#quote');
    await page.click('a[href="/pricing.html"]');
    await page.click('#buy');
    await page.goto(`${site.url}/login.html`);
    await page.fill('input[name=email]', 'Stitch@Example.com');
    await page.click('button[type=submit]');
    await page.waitForURL('**/account.html');
    await sdkLoaded(page);
    expect(await page.evaluate(() => (window.analytics as Analytics).user())).toMatchObject({
      anonymousId,
      userId: 'user-stitch@example.com',
      traits: { email: 'stitch@example.com' },
    });
    await poll(async () => (await rowsOf(anonymousId)).some((r) => r.call_type === 'identify')).toBe(true);

    const { customerId } = await collector.api<{ customerId: string }>(
      '/api/v1/cdp/identity/resolve?identityType=EXTERNAL_ID&identityValue=user-stitch@example.com',
    );
    const view = await collector.api<{
      identities: { identityType: string; identityValue: string }[];
      recentEvents: { eventName: string; anonymousId: string | null; userId: string | null }[];
    }>(`/api/v1/cdp/customer360/${customerId}`);
    expect(view.identities).toEqual(
      expect.arrayContaining([expect.objectContaining({ identityType: 'COOKIE_ID', identityValue: anonymousId })]),
    );
    // The events sent before login, with only the anonymous ID, are the customer's now.
    const before = view.recentEvents.filter((e) => e.userId === null).map((e) => e.eventName);
    expect(before).toEqual(expect.arrayContaining(['Quote Requested', 'Plan Selected', 'Page Viewed']));
    expect(view.recentEvents.map((e) => e.eventName)).toContain('Signed In');
    await context.close();
  });

  it('keeps events queued while the network is cut across a reload, and sends them once it is back', async () => {
    // The network between browser and collector: a proxy that can cut every send. (Playwright's own
    // request interception misses the keepalive requests a page sends as it unloads.)
    let online = true;
    const network = await startProxy(collector.url, (_n, req) => (online || req.method === 'GET' ? 'forward' : 'cut'));
    const cutSite = await serveWebsite({ collectorUrl: network.url, writeKey: collector.writeKey });
    const { context, page } = await visitor();
    try {
      await page.goto(cutSite.url);
      const anonymousId = await anonymousIdOf(page);
      await poll(async () => names(await rowsOf(anonymousId))).toEqual(['Page Viewed']);

      online = false;
      for (let i = 0; i < 3; i++) await page.click('#quote');
      await poll(async () => network.requests.filter((r) => r.action === 'cut').length).toBeGreaterThan(0);
      const queued = () =>
        page.evaluate(
          () =>
            new Promise<number>((resolve) => {
              const open = indexedDB.open('tributary-wk_test_write_key_24chars');
              open.onsuccess = () => {
                const count = open.result.transaction('events').objectStore('events').count();
                count.onsuccess = () => resolve(count.result);
              };
            }),
        );
      await poll(queued).toBe(3);

      await page.reload(); // the unload send fails too; the new page finds them in IndexedDB
      await sdkLoaded(page);
      await poll(queued).toBe(4); // and its own page view
      expect(names(await rowsOf(anonymousId))).toEqual(['Page Viewed']); // nothing got through

      online = true;
      await page.evaluate(() => (window.analytics as Analytics).flush());
      await poll(async () => names(await rowsOf(anonymousId))).toEqual([
        'Page Viewed',
        'Quote Requested',
        'Quote Requested',
        'Quote Requested',
        'Page Viewed',
      ]);
      await poll(queued).toBe(0);
    } finally {
      await context.close();
      await cutSite.close();
      await network.close();
    }
  });

  it('reports an event the collector refuses, never sends it again, and delivers the others', async () => {
    const { context, page, batches } = await visitor();
    try {
      await page.goto(site.url);
      const anonymousId = await anonymousIdOf(page);
      await poll(async () => names(await rowsOf(anonymousId))).toEqual(['Page Viewed']);
      const reported = page.evaluate(
        () =>
          new Promise<{ code: string; status?: number; messageIds: string[] }>((resolve) => {
            (window.analytics as Analytics).on('error', (e) =>
              resolve({ code: e.code, status: e.status, messageIds: [...e.messageIds] }),
            );
          }),
      );
      await page.evaluate(() => {
        const analytics = window.analytics as Analytics;
        analytics.track('x'.repeat(600)); // the collector refuses an event name over 512 characters
        analytics.track('Still Stored');
        return analytics.flush();
      });
      const error = await reported;
      expect(error).toMatchObject({ code: 'rejected', status: 200, messageIds: [expect.any(String)] });
      await poll(async () => names(await rowsOf(anonymousId))).toEqual(['Page Viewed', 'Still Stored']);

      // Gone from the queue: neither a flush nor the next page sends it again.
      await page.evaluate(() => (window.analytics as Analytics).flush());
      await page.reload();
      await sdkLoaded(page);
      await poll(async () => names(await rowsOf(anonymousId))).toEqual(['Page Viewed', 'Still Stored', 'Page Viewed']);
      const refusedId = error.messageIds[0] as string;
      expect(batches.filter((r) => r.postData()?.includes(refusedId))).toHaveLength(1);
    } finally {
      await context.close();
    }
  });

  it('delivers an event fired right before navigating away to a page without the SDK', async () => {
    const { context, page } = await visitor();
    await page.goto(site.url);
    const anonymousId = await anonymousIdOf(page);
    await page.click('#leave'); // tracks, then the browser follows the link at once
    await page.waitForURL('**/plain.html');
    await poll(async () => names(await rowsOf(anonymousId)).filter((n) => n === 'Outbound Link Clicked')).toEqual([
      'Outbound Link Clicked',
    ]);
    await context.close();
  });

  it('reset() on logout gives a new anonymous ID and forgets the user', async () => {
    const { context, page } = await visitor();
    await page.goto(`${site.url}/login.html`);
    const first = await anonymousIdOf(page);
    await page.click('button[type=submit]');
    await page.waitForURL('**/account.html');
    await sdkLoaded(page);
    await page.click('#logout');
    await page.waitForURL(`${site.url}/`);
    const second = await anonymousIdOf(page);
    expect(second).not.toBe(first);
    expect(await page.evaluate(() => (window.analytics as Analytics).user())).toEqual({
      anonymousId: second,
      userId: null,
      traits: {},
    });
    expect((await context.cookies()).find((c) => c.name === 'tributary_anonymous_id')?.value).toBe(second);
    await poll(async () => (await rowsOf(second)).map((r) => [r.event_name, r.user_id])).toEqual([
      ['Page Viewed', null],
    ]);
    expect((await rowsOf(first)).find((r) => r.event_name === 'Signed Out')?.user_id).toBe('user-jane@example.com');
    await context.close();
  });

  it('with requireConsent, a visitor who declines sends and stores nothing', async () => {
    const { context, page, batches } = await visitor();
    await page.goto(`${site.url}/privacy.html`);
    await sdkLoaded(page);
    await page.click('#newsletter');
    await page.click('#consent-decline');
    await page.click('#newsletter');
    await page.reload();
    await sdkLoaded(page);
    await page.click('#newsletter');
    await page.waitForTimeout(2500);
    expect(batches).toHaveLength(0);
    expect((await context.cookies()).map((c) => c.name)).not.toContain('tributary_anonymous_id');
    expect(await page.evaluate(() => Object.keys(localStorage))).toEqual(['tributary_consent']);
    expect(await page.evaluate(() => indexedDB.databases())).toEqual([]);
    await context.close();
  });

  it('with requireConsent, accepting sends what happened before, stamped with the choice, and the choice itself', async () => {
    const { context, page } = await visitor();
    await page.goto(`${site.url}/privacy.html`);
    await sdkLoaded(page);
    await page.click('#newsletter');
    await page.click('#consent-accept');
    const anonymousId = await anonymousIdOf(page);
    await poll(async () => names(await rowsOf(anonymousId))).toEqual([
      'Page Viewed',
      'Newsletter Viewed',
      'Segment Consent Preference Updated',
    ]);
    for (const row of await rowsOf(anonymousId)) {
      expect(row.context.consent).toEqual({ categoryPreferences: { analytics: true, marketing: true } });
    }
    await context.close();
  });

  it('two tabs of one site never send the same event twice', async () => {
    // Count what reaches the collector at the network, keepalive sends included.
    const network = await startProxy(collector.url, () => 'forward');
    const proxiedSite = await serveWebsite({ collectorUrl: network.url, writeKey: collector.writeKey });
    const { context, page } = await visitor();
    try {
      await page.goto(proxiedSite.url);
      const anonymousId = await anonymousIdOf(page);
      const other = await context.newPage();
      await other.goto(`${proxiedSite.url}/pricing.html`);
      expect(await anonymousIdOf(other)).toBe(anonymousId);
      // dispatchEvent: a background tab does not paint, and a real click waits for it to.
      for (let i = 0; i < 10; i++) {
        await Promise.all([page.dispatchEvent('#quote', 'click'), other.dispatchEvent('#buy', 'click')]);
      }
      await poll(async () => (await rowsOf(anonymousId)).length).toBe(22);
      await page.waitForTimeout(1500); // anything sent twice would arrive by now
      const sent = network.forwarded();
      expect(sent).toHaveLength(22);
      expect(new Set(sent).size).toBe(22);
      const sessions = new Set((await rowsOf(anonymousId)).map((r) => r.session_id));
      expect(sessions.size).toBe(1); // tabs share the session
    } finally {
      await context.close();
      await proxiedSite.close();
      await network.close();
    }
  });
});
