import { isIPv4, isIPv6 } from 'node:net';

export type IpMode = 'keep' | 'truncate' | 'drop';

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

function expandIpv6(ip: string): string[] {
  const [head = '', tail = ''] = ip.split('::');
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const zeros = ip.includes('::') ? Array(8 - h.length - t.length).fill('0') : [];
  return [...h, ...zeros, ...t];
}
