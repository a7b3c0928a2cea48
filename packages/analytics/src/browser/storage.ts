/** biome-ignore-all lint/suspicious/noDocumentCookie: the Cookie Store API is missing in Safari and Firefox; document.cookie works everywhere. */
import { type KeyValueStore, memoryStore } from '../core/storage';

const YEAR = 365 * 24 * 3600;

/** localStorage, or null where it is unavailable (blocked, sandboxed iframe, full). */
export function localStore(): KeyValueStore | null {
  try {
    const ls = window.localStorage;
    ls.setItem('tributary_probe', '1');
    ls.removeItem('tributary_probe');
    return {
      get: (k) => ls.getItem(k),
      set: (k, v) => {
        try {
          ls.setItem(k, v);
        } catch {
          // Full storage: the value lives on in the cookie or memory.
        }
      },
      remove: (k) => ls.removeItem(k),
    };
  } catch {
    return null;
  }
}

/**
 * The widest domain this page may set a cookie on (`example.com` for `www.example.com`), found by
 * trying from the top; a public suffix such as `co.uk` is refused by the browser and skipped.
 */
export function cookieDomain(hostname = location.hostname): string | undefined {
  if (/^[\d.]+$|:/.test(hostname)) return undefined; // IP addresses take host-only cookies
  const parts = hostname.split('.');
  for (let i = parts.length - 2; i >= 0; i--) {
    const domain = parts.slice(i).join('.');
    document.cookie = `tributary_probe=1;path=/;domain=${domain}`;
    if (document.cookie.includes('tributary_probe=1')) {
      document.cookie = `tributary_probe=;path=/;max-age=0;domain=${domain}`;
      return domain;
    }
  }
  return undefined;
}

/** First-party cookies for a year on `domain` (all subdomains share them). */
export function cookieStore(domain: string | undefined): KeyValueStore {
  const attrs = `;path=/;SameSite=Lax${domain ? `;domain=${domain}` : ''}${location.protocol === 'https:' ? ';Secure' : ''}`;
  return {
    get: (k) => {
      for (const c of document.cookie.split('; ')) {
        const i = c.indexOf('=');
        if (c.slice(0, i) === k) return decodeURIComponent(c.slice(i + 1));
      }
      return null;
    },
    set: (k, v) => {
      document.cookie = `${k}=${encodeURIComponent(v)};max-age=${YEAR}${attrs}`;
    },
    remove: (k) => {
      document.cookie = `${k}=;max-age=0${attrs}`;
    },
  };
}

/** Reads the first store that has the key and writes to all, so either surviving keeps the value. */
export function bothStores(stores: readonly KeyValueStore[]): KeyValueStore {
  return {
    get: (k) => {
      for (const s of stores) {
        const v = s.get(k);
        if (v !== null) return v;
      }
      return null;
    },
    set: (k, v) => {
      for (const s of stores) s.set(k, v);
    },
    remove: (k) => {
      for (const s of stores) s.remove(k);
    },
  };
}

/** A store that keeps writes in memory until consent allows storing (`commit`), or forgets them (`discard`). */
export function gatedStore(inner: KeyValueStore, open: () => boolean) {
  let pending = memoryStore();
  return {
    get: (k: string) => pending.get(k) ?? inner.get(k),
    set: (k: string, v: string) => (open() ? inner : pending).set(k, v),
    remove: (k: string) => {
      pending.remove(k);
      inner.remove(k);
    },
    commit() {
      for (const [k, v] of pending.entries()) inner.set(k, v);
      pending = memoryStore();
    },
    discard() {
      pending = memoryStore();
    },
  };
}
