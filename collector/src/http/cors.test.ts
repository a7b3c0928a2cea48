import { describe, expect, it } from 'vitest';
import { pglite } from '../../test/databases';
import { API_KEY, useApp } from '../../test/harness';

const SITE = 'https://shop.example';

const preflight = (h: ReturnType<typeof useApp>, path: string, requestHeaders: string, origin = SITE) =>
  h.app.request(path, {
    method: 'OPTIONS',
    headers: {
      origin,
      'access-control-request-method': 'POST',
      'access-control-request-headers': requestHeaders,
    },
  });

// Preflights carry no body and touch no table: one database proves them.
describe('CORS', () => {
  describe('by default', () => {
    const h = useApp(pglite);

    it.each([
      ['analytics.js, retrying', '/v1/t', 'authorization,content-type,x-retry-count'],
      ['analytics.js, batching', '/v1/b', 'authorization'],
      ['RudderStack', '/v1/track', 'anonymousid,authorization,content-type'],
      ['a RudderStack beacon', '/beacon/v1/batch', 'content-type'],
    ])('lets %s through the tracking preflight with the headers it asks for', async (_client, path, headers) => {
      const res = await preflight(h, path, headers);
      expect(res.status).toBe(204);
      expect(res.headers.get('access-control-allow-origin')).toBe('*');
      expect(res.headers.get('access-control-allow-headers')?.toLowerCase().split(',')).toEqual(headers.split(','));
      expect(res.headers.get('access-control-allow-methods')).toContain('POST');
    });

    it('answers tracking requests to any site, exposing Retry-After', async () => {
      const res = await h.app.request('/v1/track', { method: 'POST', headers: { origin: SITE }, body: '{}' });
      expect(res.headers.get('access-control-allow-origin')).toBe('*');
      expect(res.headers.get('access-control-expose-headers')).toBe('Retry-After');
    });

    it('keeps the CDP and admin APIs closed to browsers on other sites', async () => {
      for (const path of ['/api/v1/cdp/events', '/api/v1/admin/keys']) {
        const res = await preflight(h, path, 'authorization');
        expect(res.headers.get('access-control-allow-origin'), path).toBeNull();
        const get = await h.app.request(path, { headers: { origin: SITE, authorization: `Bearer ${API_KEY}` } });
        expect(get.headers.get('access-control-allow-origin'), path).toBeNull();
      }
    });
  });

  describe('with API_ALLOWED_ORIGINS', () => {
    const h = useApp(pglite, { API_ALLOWED_ORIGINS: ['https://admin.example'] });

    it('opens the CDP API to the origins it names, and to no other', async () => {
      const allowed = await preflight(h, '/api/v1/cdp/events', 'authorization', 'https://admin.example');
      expect(allowed.headers.get('access-control-allow-origin')).toBe('https://admin.example');
      expect(allowed.headers.get('access-control-allow-headers')).toMatch(/Authorization/);
      const read = await h.app.request('/api/v1/cdp/events', {
        headers: { origin: 'https://admin.example', authorization: `Bearer ${API_KEY}` },
      });
      expect(read.status).toBe(200);
      expect(read.headers.get('access-control-allow-origin')).toBe('https://admin.example');
      const other = await preflight(h, '/api/v1/cdp/events', 'authorization', SITE);
      expect(other.headers.get('access-control-allow-origin')).toBeNull();
    });
  });
});
