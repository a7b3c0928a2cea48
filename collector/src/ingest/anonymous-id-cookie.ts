import { randomUUID } from 'node:crypto';
import type { Context, MiddlewareHandler } from 'hono';
import { getCookie, setCookie } from 'hono/cookie';

export interface AnonymousIdCookieOptions {
  /** The cookie's name: the SDK's own (`tributary_anonymous_id`), or another library's. */
  name: string;
  /** Shared by every subdomain of this domain; unset, the collector's host only. */
  domain?: string;
}

/** A year, the most a browser keeps a server-set cookie (Chrome caps every cookie at 400 days). */
const YEAR_SECONDS = 365 * 24 * 3600;
/** What an anonymous ID looks like (UUIDs and the like); anything else in the cookie is replaced, not echoed. */
const ANONYMOUS_ID = /^[\w.:-]{1,200}$/;
const LOCAL_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);

/**
 * Secure where the page is https (directly or behind a TLS-terminating proxy); also on localhost,
 * which browsers treat as secure. A plain-http deployment gets a cookie without it rather than none.
 */
function isSecure(c: Context): boolean {
  const url = new URL(c.req.url);
  return url.protocol === 'https:' || c.req.header('x-forwarded-proto') === 'https' || LOCAL_HOSTS.has(url.hostname);
}

/**
 * The anonymous-ID cookie set by the collector itself, for a collector answering on the site's own
 * domain (a path behind its reverse proxy, or a subdomain). Safari keeps a cookie written by a script
 * at most seven days, so a returning visitor would come back as a stranger; a cookie in an HTTP
 * answer lasts its full age. The SDK reads the cookie before its own storage, so it adopts the ID.
 *
 * `refresh` sets again, for another year, the ID the request carries (tracking requests, which
 * carry the site's cookies when they are same-origin). `mint` does too, and gives a visitor without
 * one a new ID (the SDK's script, loaded before any ID exists).
 */
export function anonymousIdCookie({ name, domain }: AnonymousIdCookieOptions) {
  const handler =
    (mint: boolean): MiddlewareHandler =>
    async (c, next) => {
      const carried = getCookie(c, name);
      const id = carried && ANONYMOUS_ID.test(carried) ? carried : mint ? randomUUID() : undefined;
      if (id) {
        setCookie(c, name, id, {
          path: '/',
          maxAge: YEAR_SECONDS,
          sameSite: 'Lax',
          secure: isSecure(c),
          httpOnly: false, // the SDK reads it
          ...(domain ? { domain } : {}),
        });
      }
      await next();
    };
  return { refresh: handler(false), mint: handler(true) };
}
