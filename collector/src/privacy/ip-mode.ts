import { isIPv4, isIPv6 } from 'node:net';

export type IpMode = 'keep' | 'truncate' | 'drop';

/**
 * What `IP_MODE` keeps of a user agent. The raw string (and a browser's `userAgentData` client hints)
 * identifies a device almost as well as its IP, so only `keep` stores it. The device type, browser
 * with its major version and OS that ingestion parses from it say little about the person: `truncate`
 * keeps them, as it keeps the network of an IP; `drop` keeps nothing.
 */
export const keepsRawUserAgent = (mode: IpMode) => mode === 'keep';
export const keepsDevice = (mode: IpMode) => mode !== 'drop';

/**
 * An IP address as `IP_MODE` says to keep it: whole, truncated (IPv4 without its last octet, IPv6
 * without its last 80 bits, as Google Analytics anonymizes), or not at all.
 */
export function applyIpMode(ip: string | null, mode: IpMode): string | null {
  if (!ip || mode === 'keep') return ip;
  if (mode === 'drop') return null;
  if (isIPv4(ip)) return ip.replace(/\.\d+$/, '.0');
  const v4mapped = ip.match(/^::ffff:(\d+\.\d+\.\d+\.\d+)$/i);
  if (v4mapped?.[1]) return `::ffff:${applyIpMode(v4mapped[1], mode)}`;
  if (isIPv6(ip)) return `${expandIpv6(ip).slice(0, 3).join(':')}::`;
  return null;
}

/** A JSON `context` (copied) with its `ip`, `userAgent` and `userAgentData` as `IP_MODE` keeps them. */
export function contextUnderIpMode(context: Record<string, unknown>, mode: IpMode): Record<string, unknown> {
  if (mode === 'keep') return context;
  const copy = { ...context };
  if ('ip' in copy) {
    const ip = typeof copy.ip === 'string' ? applyIpMode(copy.ip, mode) : null;
    if (ip) copy.ip = ip;
    else delete copy.ip;
  }
  delete copy.userAgent;
  delete copy.userAgentData;
  return copy;
}

function expandIpv6(ip: string): string[] {
  const [head = '', tail = ''] = ip.split('::');
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const zeros = ip.includes('::') ? Array(8 - h.length - t.length).fill('0') : [];
  return [...h, ...zeros, ...t];
}
