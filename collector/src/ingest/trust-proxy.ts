import { isIP } from 'node:net';
import ipaddr from 'ipaddr.js';

type Range = [ipaddr.IPv4 | ipaddr.IPv6, number];

/**
 * Which proxies may tell the collector who called it (`TRUST_PROXY`): a number of proxies that stand
 * in front of it (0: none, the socket's peer is the caller), or the addresses of the proxies it trusts,
 * as ranges. A count needs every request to pass through exactly that many proxies; ranges also hold
 * when some requests arrive through fewer, or straight from the caller.
 */
export type TrustProxy = number | readonly Range[];

// Cheap to name, and what most deployments need: a proxy on the same host, or on a private network
// (Docker, Kubernetes, a cloud VPC). Anything else is written as ranges.
const NAMED_RANGES: Record<string, string[]> = {
  loopback: ['127.0.0.0/8', '::1/128'],
  private: ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', 'fc00::/7'],
};

const FORMAT =
  'must be a number of proxies (0, 1, 2 ...), true, false, or a comma-separated list of the addresses ' +
  'and CIDR ranges of trusted proxies (10.0.0.0/8, 192.168.1.7, fd00::/8, loopback, private)';

/** `10.0.0.0/8`, `192.168.1.7`, `fd00::/8`; null for anything else. */
function parseRange(text: string): Range | null {
  const [address = '', bits, extra] = text.split('/');
  // node's isIP, unlike ipaddr.js, refuses the shorthands `10.1` and `0x0a.1`, which are typos here.
  if (extra !== undefined || !isIP(address) || (bits !== undefined && !/^\d{1,3}$/.test(bits))) return null;
  const ip = ipaddr.parse(address);
  const max = ip.kind() === 'ipv4' ? 32 : 128;
  const prefix = bits === undefined ? max : Number(bits);
  if (prefix > max) return null;
  // Addresses are compared once unmapped (::ffff:10.1.2.3 is 10.1.2.3), so such a range is too.
  if (ip instanceof ipaddr.IPv6 && ip.isIPv4MappedAddress() && prefix >= 96) return [ip.toIPv4Address(), prefix - 96];
  return [ip, prefix];
}

/**
 * Reads `TRUST_PROXY`: unset, `false` or `0` trust no proxy, `true` is 1, a number counts proxies, and
 * a comma-separated list names them by address, range, `loopback` or `private`. Anything else throws,
 * quoting the entries it could not read.
 *
 * @example
 * parseTrustProxy('2'); // 2
 * parseTrustProxy('10.0.0.0/8, loopback'); // [[10.0.0.0, 8], [127.0.0.0, 8], [::1, 128]]
 */
export function parseTrustProxy(value: string | undefined): TrustProxy {
  const text = (value ?? '').trim().toLowerCase();
  if (text === '' || text === 'false') return 0;
  if (text === 'true') return 1;
  if (/^\d+$/.test(text)) return Number(text);
  const items = text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const ranges: Range[] = [];
  const unreadable: string[] = [];
  for (const item of items) {
    const found = (NAMED_RANGES[item] ?? [item]).map(parseRange);
    if (found.every((range): range is Range => range !== null)) ranges.push(...found);
    else unreadable.push(item);
  }
  if (unreadable.length > 0 || ranges.length === 0) {
    throw new Error(`${FORMAT}; not ${unreadable.map((s) => `"${s}"`).join(', ') || `"${value}"`}`);
  }
  return ranges;
}

/**
 * Whether the collector believes what the proxy at `hop` (0: the socket's peer, 1: the address that
 * peer reported, ...) says about who called it. With a count the hop decides, whatever its address
 * (which may be unknown); with ranges the address does, and an unknown one is never trusted.
 */
export function trustsProxy(trust: TrustProxy, address: string | null, hop: number): boolean {
  if (typeof trust === 'number') return hop < trust;
  if (address === null || !ipaddr.isValid(address)) return false;
  const ip = ipaddr.parse(address);
  return trust.some(([range, bits]) => range.kind() === ip.kind() && ip.match(range, bits));
}
