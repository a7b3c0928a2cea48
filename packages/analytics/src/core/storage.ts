/** Synchronous string storage (localStorage, a cookie, memory): identity and sessions live in one. */
export interface KeyValueStore {
  get(key: string): string | null;
  set(key: string, value: string): void;
  remove(key: string): void;
}

/**
 * A store kept in memory: Node, tests, and the browser before consent allows storing anything.
 *
 * @example
 * const store = memoryStore(); store.set('k', 'v'); store.get('k') // 'v'
 */
export function memoryStore(): KeyValueStore & { entries(): [string, string][] } {
  const map = new Map<string, string>();
  return {
    get: (k) => map.get(k) ?? null,
    set: (k, v) => void map.set(k, v),
    remove: (k) => void map.delete(k),
    entries: () => [...map],
  };
}
