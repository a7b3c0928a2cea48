import { existsSync } from 'node:fs';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type Browser, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningCollector, startCollector } from '../../../collector/test/start-collector';
import type { Analytics } from '../src/browser';

// First-party collection: the site's own server forwards /t/* to the collector (PATH_PREFIX=/t), so
// the script and the events never leave the site's origin, and the collector sets the anonymous-ID
// cookie itself (ANONYMOUS_ID_COOKIE), which the SDK adopts.
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const COOKIE = 'tributary_anonymous_id';

let collector: RunningCollector;
let site: Server;
let siteUrl: string;
let browser: Browser;
/** Every path the site forwarded to the collector. */
const forwarded: string[] = [];

/** The site: one page with a bare script tag under the prefix, and a reverse proxy for /t/*. */
function serveSite(collectorUrl: string, writeKey: string) {
  const page = `<!doctype html><title>Shop</title>
<script>window.analytics = []; window.analytics._writeKey = ${JSON.stringify(writeKey)};</script>
<script async src="/t/sdk/v1/analytics.min.js"></script>`;
  return createServer((req, res) => {
    if (!req.url?.startsWith('/t/')) {
      res.writeHead(200, { 'content-type': 'text/html' });
      return res.end(page);
    }
    forwarded.push(req.url);
    // The path goes on as it is, as a proxy rule such as nginx's `proxy_pass http://collector;` sends it.
    const upstream = request(`${collectorUrl}${req.url}`, { method: req.method, headers: req.headers }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    req.pipe(upstream);
  });
}

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`Chromium is required at ${CHROMIUM} (apt-get install chromium)`);
  collector = await startCollector({ config: { PATH_PREFIX: '/t', ANONYMOUS_ID_COOKIE: COOKIE } });
  site = serveSite(collector.url, collector.writeKey);
  await new Promise<void>((resolve) => site.listen(0, '127.0.0.1', resolve));
  siteUrl = `http://127.0.0.1:${(site.address() as AddressInfo).port}`;
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
});

afterAll(async () => {
  await browser?.close();
  await new Promise((resolve) => site?.close(resolve));
  await collector?.close();
});

describe('first-party collection in Chromium', () => {
  it("serves the SDK and takes events under the site's own path, and the SDK adopts the collector's cookie", async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    const scriptCookie = page
      .waitForResponse((r) => r.url().endsWith('/t/sdk/v1/analytics.min.js'))
      .then((r) => r.headerValue('set-cookie'));
    await page.goto(siteUrl);
    await page.waitForFunction(() => window.analytics?.initialized === true);
    const minted = (await scriptCookie)?.match(new RegExp(`^${COOKIE}=([^;]+)`))?.[1];
    expect(minted).toMatch(/^[0-9a-f-]{36}$/);
    const anonymousId = await page.evaluate(() => (window.analytics as Analytics).user().anonymousId);
    expect(anonymousId).toBe(minted);

    // The SDK found the collector under the script's own path: the page view went to /t/v1/batch.
    await expect
      .poll(async () => collector.query(`select 1 from customer_events where anonymous_id = '${anonymousId}'`), {
        timeout: 15_000,
      })
      .toHaveLength(1);
    expect(forwarded).toContain('/t/v1/batch');

    // The cookie is the collector's, good for a year: a script-set one is what Safari cuts to seven days.
    const cookie = (await context.cookies()).find((c) => c.name === COOKIE);
    expect(cookie).toMatchObject({ value: anonymousId, httpOnly: false, sameSite: 'Lax' });
    expect(cookie?.expires ?? 0).toBeGreaterThan(Date.now() / 1000 + 360 * 24 * 3600);

    // A returning visitor keeps the ID, renewed by the collector on the next page view.
    const again = page.waitForResponse((r) => r.url().endsWith('/t/sdk/v1/analytics.min.js'));
    await page.reload();
    expect(await (await again).headerValue('set-cookie')).toContain(`${COOKIE}=${anonymousId}`);
    await page.waitForFunction(() => window.analytics?.initialized === true);
    expect(await page.evaluate(() => (window.analytics as Analytics).user().anonymousId)).toBe(anonymousId);
    await context.close();
  });
});
