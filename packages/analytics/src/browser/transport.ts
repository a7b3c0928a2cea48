import type { Transport } from '../core/transport';

/**
 * fetch with a text/plain body and the write key inside it: a "simple" CORS request, so no
 * preflight doubles each send. `keepalive` lets a request outlive the page.
 */
export const fetchTransport: Transport = async (url, body, options = {}) => {
  const res = await fetch(url, {
    method: 'POST',
    body,
    headers: { 'Content-Type': 'text/plain' },
    credentials: 'omit',
    keepalive: !!options.keepalive,
  });
  return { status: res.status, retryAfter: res.headers.get('Retry-After'), text: await res.text() };
};

/**
 * For a page that is going away: a keepalive fetch, and `navigator.sendBeacon` when fetch is
 * missing or refuses (keepalive requests share a 64 KB budget). A beacon's answer is unknown, so
 * it counts as not acknowledged and the events stay queued for the next page (the collector's
 * messageId dedupe makes a second delivery harmless).
 */
export const unloadTransport: Transport = async (url, body) => {
  try {
    return await fetchTransport(url, body, { keepalive: true });
  } catch (e) {
    navigator.sendBeacon?.(url, body);
    throw e;
  }
};
