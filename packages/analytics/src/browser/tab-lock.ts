/**
 * Runs `fn` while holding a Web Lock that every tab of the site shares, so one tab at a time
 * leases from the shared queue: two tabs never send the same event. Browsers without Web Locks
 * (before 2022) run it unguarded; the collector's messageId dedupe then absorbs a rare double send.
 *
 * @example
 * const exclusive = tabLock('tributary-wk_123'); await exclusive(() => sendOneBatch());
 */
export function tabLock(name: string): <T>(fn: () => Promise<T>) => Promise<T> {
  const locks = navigator.locks;
  return (fn) => (locks ? locks.request(name, () => fn()) : fn());
}
