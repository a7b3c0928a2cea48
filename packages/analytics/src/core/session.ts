import type { KeyValueStore } from './storage';

/** Storage key of the current session: `{ id, last }` (last activity, ms). */
export const SESSION_KEY = 'tributary_session';

/** Segment's, Amplitude's and GA's default: a session ends after 30 minutes without activity. */
export const DEFAULT_SESSION_TIMEOUT = 30 * 60 * 1000;

/**
 * The session of an event happening `now`: the stored one if it saw activity within `timeout`
 * ms, else a new one whose ID is its start time (Amplitude's convention, which sorts by start).
 * Records the activity. Because the store is shared (localStorage), tabs and reloads of one site
 * share the session.
 *
 * @example
 * touchSession(localStore, Date.now()) // 1718000000000
 */
export function touchSession(store: KeyValueStore, now: number, timeout = DEFAULT_SESSION_TIMEOUT): number {
  let current: { id?: unknown; last?: unknown } | null = null;
  try {
    current = JSON.parse(store.get(SESSION_KEY) ?? 'null');
  } catch {
    // A garbled value starts a new session.
  }
  const id = current?.id;
  const last = current?.last;
  const alive = typeof id === 'number' && typeof last === 'number' && now - last < timeout;
  const session = alive ? id : now;
  store.set(SESSION_KEY, JSON.stringify({ id: session, last: now }));
  return session;
}
