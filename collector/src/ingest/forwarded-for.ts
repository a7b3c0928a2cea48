import { isIPv4, isIPv6 } from 'node:net';
import ipaddr from 'ipaddr.js';

/**
 * An address in one spelling, so that the same caller is one caller in the events and the rate
 * limits: an IPv4-mapped IPv6 address (`::ffff:203.0.113.7`, what a dual-stack socket reports for an
 * IPv4 peer) as IPv4, IPv6 compressed and in lower case. Null for what is no address.
 */
export function canonicalAddress(text: string): string | null {
  if (isIPv4(text)) return text;
  if (!isIPv6(text)) return null;
  const ip = ipaddr.IPv6.parse(text);
  return ip.isIPv4MappedAddress() ? ip.toIPv4Address().toString() : ip.toString();
}

// A node's port, which RFC 7239 also lets a proxy obfuscate (`_abc`).
const PORT = String.raw`(?::(?:\d{1,5}|_[\w.-]+))?`;
const BRACKETED = new RegExp(String.raw`^\[([^\]]+)\]${PORT}$`);
const IPV4_AND_PORT = new RegExp(String.raw`^([\d.]+)${PORT}$`);

/**
 * The address of a node as proxies write it: `203.0.113.7`, `203.0.113.7:4711`, `[2001:db8::1]`,
 * `[2001:db8::1]:4711` (RFC 7239 §6). Null for `unknown`, an obfuscated identifier (`_hidden`) and
 * anything else that names no address.
 */
function nodeAddress(node: string): string | null {
  return canonicalAddress(node.match(BRACKETED)?.[1] ?? node.match(IPV4_AND_PORT)?.[1] ?? node);
}

/** A header's list elements: empty ones are ignored, as HTTP says a list's recipient must (RFC 9110 §5.6.1). */
const elements = (header: string) =>
  header
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);

/** A parameter's value, unquoted: `"[2001:db8::1]:4711"` is `[2001:db8::1]:4711`. */
const unquoted = (value: string) =>
  value.length >= 2 && value.startsWith('"') && value.endsWith('"')
    ? value.slice(1, -1).replace(/\\(.)/g, '$1')
    : value;

/** The `for=` node of one element of a Forwarded header, `for=192.0.2.60;proto=http;by=203.0.113.43`. */
function forwardedFor(element: string): string | null {
  for (const pair of element.split(';')) {
    const equals = pair.indexOf('=');
    if (equals > 0 && pair.slice(0, equals).trim().toLowerCase() === 'for') {
      return nodeAddress(unquoted(pair.slice(equals + 1).trim()));
    }
  }
  return null;
}

/**
 * The addresses the proxies reported, in the order they were written: the caller's first, the one the
 * nearest proxy was called from last; null where an entry names no address. X-Forwarded-For when the
 * request has one, otherwise the `for=` of each element of Forwarded (RFC 7239). One header, never a
 * mix: X-Forwarded-For is what nginx, Caddy, Traefik, HAProxy and the cloud load balancers write, so a
 * Forwarded header beside it is most likely the caller's own, passed through untouched; believing it
 * first would let any caller name its address.
 *
 * Elements are split at every comma and semicolon, quoted or not: no address holds either, and a
 * caller's unbalanced quote must not swallow the elements the proxies appended after it.
 */
export function forwardedAddresses(
  xForwardedFor: string | undefined,
  forwarded: string | undefined,
): (string | null)[] {
  const written = elements(xForwardedFor ?? '');
  if (written.length > 0) return written.map(nodeAddress);
  return elements(forwarded ?? '').map(forwardedFor);
}
