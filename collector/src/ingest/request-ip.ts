import { getConnInfo } from '@hono/node-server/conninfo';
import type { Context } from 'hono';
import { canonicalAddress, forwardedAddresses } from './forwarded-for';
import { type TrustProxy, trustsProxy } from './trust-proxy';

/** The socket's peer; null for in-process requests (app.request in tests), which have no socket. */
function socketAddress(c: Context): string | null {
  try {
    const address = getConnInfo(c).remote.address;
    return address === undefined ? null : canonicalAddress(address);
  } catch {
    return null;
  }
}

/**
 * The caller's address: the socket's peer, unless that peer is a trusted proxy. Then the chain is
 * walked back from the nearest hop (the peer, then X-Forwarded-For or Forwarded right to left, each
 * proxy having appended the address it was called from) to the first hop not trusted: that one is
 * the caller. Entries left of it were written by the caller, or passed on by proxies not trusted, and
 * prove nothing: a per-address limit that believed them could be escaped by writing a new one each
 * time. So a peer outside trusted ranges has its headers ignored. When every hop is trusted, the
 * leftmost is the caller; an entry that names no address (`unknown`) is a caller of unknown address.
 */
export function requestIp(c: Context, trustProxy: TrustProxy): string | null {
  let address = socketAddress(c);
  if (trustProxy === 0) return address;
  const chain = forwardedAddresses(c.req.header('x-forwarded-for'), c.req.header('forwarded'));
  for (let hop = 0; hop < chain.length && trustsProxy(trustProxy, address, hop); hop++) {
    address = chain[chain.length - 1 - hop] ?? null;
  }
  return address;
}
