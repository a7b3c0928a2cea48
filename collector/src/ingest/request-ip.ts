import { isIP } from 'node:net';
import { getConnInfo } from '@hono/node-server/conninfo';
import type { Context } from 'hono';

/** An address as some load balancers write it, `203.0.113.7:4711` or `[2001:db8::1]:4711`, without the port; null for what is no address. */
function withoutPort(entry: string): string | null {
  if (isIP(entry)) return entry;
  const address = entry.match(/^\[([^\]]+)\]:\d+$/)?.[1] ?? entry.match(/^([\d.]+):\d+$/)?.[1];
  return address && isIP(address) ? address : null;
}

/**
 * The caller's address: the socket's, or, behind `trustedProxies` reverse proxies, the one the
 * outermost of them saw, which is that many entries from the right of X-Forwarded-For (each proxy
 * appends the address it was called from). Entries further left were written by the caller and
 * prove nothing: a per-address limit that believed them could be escaped by writing a new one each time.
 */
export function requestIp(c: Context, trustedProxies: number): string | null {
  if (trustedProxies > 0) {
    const hops = c.req.header('x-forwarded-for')?.split(',');
    const forwarded = hops && withoutPort(hops[Math.max(0, hops.length - trustedProxies)]?.trim() ?? '');
    if (forwarded) return forwarded;
  }
  try {
    return getConnInfo(c).remote.address ?? null;
  } catch {
    // In-process requests (app.request in tests) have no socket.
    return null;
  }
}
