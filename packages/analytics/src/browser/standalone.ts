import { type Analytics, type BrowserOptions, createAnalytics } from './analytics';

/** What the snippet leaves on `window.analytics` before the library arrives. */
interface Stub extends Array<[keyof Analytics, ...unknown[]]> {
  _writeKey?: string;
  _options?: Partial<BrowserOptions>;
  initialized?: boolean;
}

declare global {
  interface Window {
    analytics?: Stub | (Analytics & { initialized: true });
  }
}

// The script-tag build: take over from the snippet's stub, replay its queued calls in order, then
// send the initial page view (after the replay, so it carries an identify or consent queued before it).
const stub = window.analytics as Stub | undefined;
const src = (document.currentScript as HTMLScriptElement | null)?.src;
if (stub?._writeKey && !stub.initialized) {
  const options = stub._options ?? {};
  const analytics = createAnalytics({
    // The collector is where the script came from, under the same path prefix (`/t/sdk/v1/...`: `/t`);
    // without a script URL, this page's own origin ('' makes the requests relative).
    host: src?.split('/sdk/v1/')[0] ?? '',
    ...options,
    writeKey: stub._writeKey,
    initialPageview: false,
  });
  window.analytics = Object.assign(analytics, { initialized: true as const });
  for (const [method, ...args] of stub) {
    try {
      (analytics[method] as (...a: unknown[]) => unknown)(...args);
    } catch {
      // One bad queued call must not stop the others.
    }
  }
  if (options.initialPageview !== false) analytics.page();
}
