import { describe, expect, it } from 'vitest';
import { pglite } from '../../test/databases';
import { basicAuth, useApp, WRITE_KEY } from '../../test/harness';

const NAME = 'tributary_anonymous_id';

const script = (h: ReturnType<typeof useApp>, headers: Record<string, string> = {}) =>
  h.app.request('https://www.shop.example/sdk/v1/analytics.min.js', { headers });
const track = (h: ReturnType<typeof useApp>, cookie?: string) =>
  h.app.request('https://www.shop.example/v1/track', {
    method: 'POST',
    headers: {
      authorization: basicAuth(WRITE_KEY),
      'content-type': 'application/json',
      ...(cookie ? { cookie } : {}),
    },
    body: JSON.stringify({ event: 'Viewed', anonymousId: 'a-1' }),
  });

/** The cookie attributes of a Set-Cookie header, by lower-cased name. */
function parseSetCookie(header: string | null) {
  if (!header) return undefined;
  const [pair = '', ...attributes] = header.split(/;\s*/);
  const [name, value] = pair.split('=');
  const attrs = Object.fromEntries(attributes.map((a) => [a.split('=')[0]?.toLowerCase(), a.split('=')[1] ?? true]));
  return { name, value, attrs };
}

describe('the anonymous-ID cookie set by the collector', () => {
  describe('with ANONYMOUS_ID_COOKIE set', () => {
    const h = useApp(pglite, { ANONYMOUS_ID_COOKIE: NAME, ANONYMOUS_ID_COOKIE_DOMAIN: 'shop.example' });

    it('gives a new visitor an ID with the SDK script, readable by scripts, for a year', async () => {
      const res = await script(h);
      expect(res.status).toBe(200);
      const cookie = parseSetCookie(res.headers.get('set-cookie'));
      expect(cookie?.name).toBe(NAME);
      expect(cookie?.value).toMatch(/^[0-9a-f-]{36}$/);
      expect(cookie?.attrs).toMatchObject({
        'max-age': String(365 * 24 * 3600),
        domain: 'shop.example',
        path: '/',
        samesite: 'Lax',
        secure: true,
      });
      expect(cookie?.attrs).not.toHaveProperty('httponly');
      // Each page view asks again, so the cookie is renewed; no shared cache keeps one visitor's cookie.
      expect(res.headers.get('cache-control')).toBe('private, no-cache');
    });

    it("renews the visitor's own ID, on the script (even a 304) and on tracking requests", async () => {
      const first = await script(h, { cookie: `${NAME}=abc-123` });
      expect(parseSetCookie(first.headers.get('set-cookie'))?.value).toBe('abc-123');
      const etag = first.headers.get('etag') ?? '';
      const again = await script(h, { cookie: `other=1; ${NAME}=abc-123`, 'if-none-match': etag });
      expect(again.status).toBe(304);
      expect(parseSetCookie(again.headers.get('set-cookie'))?.value).toBe('abc-123');
      const tracked = await track(h, `${NAME}=abc-123`);
      expect(tracked.status).toBe(200);
      expect(parseSetCookie(tracked.headers.get('set-cookie'))?.value).toBe('abc-123');
    });

    it('sets no cookie on a tracking request that carries none, and replaces a malformed one', async () => {
      const tracked = await track(h);
      expect(tracked.status).toBe(200);
      expect(tracked.headers.get('set-cookie')).toBeNull();
      const res = await script(h, { cookie: `${NAME}=${encodeURIComponent('<script>')}` });
      expect(parseSetCookie(res.headers.get('set-cookie'))?.value).toMatch(/^[0-9a-f-]{36}$/);
    });
  });

  describe('by default', () => {
    const h = useApp(pglite);

    it('sets no cookie, and the script is cached publicly', async () => {
      const res = await script(h);
      expect(res.headers.get('set-cookie')).toBeNull();
      expect(res.headers.get('cache-control')).toMatch(/^public/);
      expect((await track(h, `${NAME}=abc-123`)).headers.get('set-cookie')).toBeNull();
    });
  });
});
