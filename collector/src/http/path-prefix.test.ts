import { describe, expect, it } from 'vitest';
import { testDatabases } from '../../test/databases';
import { basicAuth, useApp, WRITE_KEY } from '../../test/harness';
import { prefixedPath } from './path-prefix';

describe('prefixedPath', () => {
  const path = prefixedPath('/t');
  const of = (p: string) => path?.(new Request(`http://collector${p}`));

  it('routes a prefixed path as the path under it, and others unchanged', () => {
    expect(of('/t/v1/batch')).toBe('/v1/batch');
    expect(of('/t/sdk/v1/analytics.min.js?v=2')).toBe('/sdk/v1/analytics.min.js');
    expect(of('/t')).toBe('/');
    expect(of('/v1/batch')).toBe('/v1/batch');
    expect(of('/tx/v1/batch')).toBe('/tx/v1/batch');
  });

  it('is hono’s own without a prefix', () => {
    expect(prefixedPath('')).toBeUndefined();
  });
});

describe.each(testDatabases)('PATH_PREFIX on $name', (db) => {
  const h = useApp(db, { PATH_PREFIX: '/collect/t' });

  it('answers the tracking API, the SDK script and the CDP API under the prefix, and without it', async () => {
    const anonymousId = `prefix-${Date.now()}`;
    const batch = (path: string) =>
      h.call('POST', path, { batch: [{ type: 'track', event: path, anonymousId }] }, basicAuth(WRITE_KEY));
    expect((await batch('/collect/t/v1/batch')).status).toBe(200);
    expect((await batch('/v1/batch')).status).toBe(200);
    expect((await batch('/collect/tx/v1/batch')).status).toBe(404);
    const events = await h.call('GET', '/collect/t/api/v1/cdp/events?limit=100');
    const names = ((await events.json()).events as { anonymousId: string; eventName: string }[])
      .filter((e) => e.anonymousId === anonymousId)
      .map((e) => e.eventName)
      .sort();
    expect(names).toEqual(['/collect/t/v1/batch', '/v1/batch']);
    const script = await h.app.request('/collect/t/sdk/v1/analytics.min.js');
    expect(script.status).toBe(200);
    expect(script.headers.get('content-type')).toMatch(/javascript/);
  });

  it('answers a preflight under the prefix', async () => {
    const res = await h.app.request('/collect/t/v1/t', {
      method: 'OPTIONS',
      headers: { origin: 'https://shop.example', 'access-control-request-headers': 'x-retry-count' },
    });
    expect(res.headers.get('access-control-allow-headers')).toBe('x-retry-count');
  });
});
