import UAParser from 'ua-parser-js';

export interface Device {
  deviceType: string;
  browser: string | null;
  os: string | null;
}

const MAX_ENTRIES = 2_000;
const cache = new Map<string, Device>();

/**
 * Device type, browser and OS of a user agent. Cached: a page sends the same agent many times,
 * and parsing costs far more than a map lookup.
 */
export function parseUserAgent(userAgent: string): Device {
  const hit = cache.get(userAgent);
  if (hit) return hit;
  const ua = new UAParser(userAgent).getResult();
  const join = (name?: string, version?: string) => (name ? (version ? `${name} ${version}` : name) : null);
  const device: Device = {
    // ua-parser leaves the type empty for desktops.
    deviceType: ua.device.type ?? (/bot|crawl|spider/i.test(userAgent) ? 'bot' : 'desktop'),
    browser: join(ua.browser.name, ua.browser.major),
    os: join(ua.os.name, ua.os.version),
  };
  if (cache.size >= MAX_ENTRIES) cache.delete(cache.keys().next().value as string);
  cache.set(userAgent, device);
  return device;
}
