import type { Transport } from '../core/transport';

/** fetch with the write key as Basic auth (Segment's convention) and a timeout, so a hung collector is retried. */
export function nodeTransport(writeKey: string, timeout: number): Transport {
  const authorization = `Basic ${Buffer.from(`${writeKey}:`).toString('base64')}`;
  return async (url, body) => {
    const res = await fetch(url, {
      method: 'POST',
      body,
      headers: { 'Content-Type': 'application/json', Authorization: authorization },
      signal: AbortSignal.timeout(timeout),
    });
    // Always read: it names refused events, and the connection goes back to the pool.
    return { status: res.status, retryAfter: res.headers.get('retry-after'), text: await res.text() };
  };
}
