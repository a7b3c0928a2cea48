import { describe, expect, it } from 'vitest';
import { SESSION_KEY, touchSession } from './session';
import { memoryStore } from './storage';

const MIN = 60_000;

describe('touchSession', () => {
  it('keeps one session while activity continues, even past the timeout in total', () => {
    const store = memoryStore();
    const start = 1_700_000_000_000;
    const id = touchSession(store, start);
    expect(id).toBe(start);
    for (let t = start; t < start + 3 * 60 * MIN; t += 20 * MIN) expect(touchSession(store, t)).toBe(id);
  });

  it('starts a new session after 30 minutes without activity', () => {
    const store = memoryStore();
    const first = touchSession(store, 0);
    expect(touchSession(store, 29 * MIN)).toBe(first);
    const second = touchSession(store, 29 * MIN + 30 * MIN);
    expect(second).not.toBe(first);
    expect(second).toBe(59 * MIN);
  });

  it('honours a configured timeout', () => {
    const store = memoryStore();
    const first = touchSession(store, 0, 5 * MIN);
    expect(touchSession(store, 6 * MIN, 5 * MIN)).not.toBe(first);
  });

  it('is shared by everything that shares the store (tabs and reloads share localStorage)', () => {
    const shared = memoryStore();
    const tabA = touchSession(shared, 1000);
    const tabB = touchSession(shared, 2000);
    expect(tabB).toBe(tabA);
  });

  it('starts afresh from a garbled stored value', () => {
    const store = memoryStore();
    store.set(SESSION_KEY, '{not json');
    expect(touchSession(store, 5000)).toBe(5000);
    store.set(SESSION_KEY, JSON.stringify({ id: 'x', last: 'y' }));
    expect(touchSession(store, 6000)).toBe(6000);
  });
});
