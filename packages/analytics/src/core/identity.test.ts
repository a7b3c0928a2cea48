import { describe, expect, it } from 'vitest';
import { ANONYMOUS_ID_KEY, Identity } from './identity';
import { memoryStore } from './storage';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('Identity', () => {
  it('creates a random anonymous ID once and keeps it in the store', () => {
    const ids = memoryStore();
    const a = new Identity(ids, memoryStore());
    const id = a.anonymousId();
    expect(id).toMatch(UUID);
    expect(a.anonymousId()).toBe(id);
    expect(new Identity(ids, memoryStore()).anonymousId()).toBe(id); // a reload reads it back
    expect(ids.get(ANONYMOUS_ID_KEY)).toBe(id);
  });

  it('remembers the userId and merges traits across identifies of one user', () => {
    const a = new Identity(memoryStore(), memoryStore());
    a.identify('u1', { email: 'a@b.co', plan: 'free' });
    const user = a.identify(undefined, { plan: 'pro' });
    expect(user.userId).toBe('u1');
    expect(user.traits).toEqual({ email: 'a@b.co', plan: 'pro' });
  });

  it("starts traits afresh for a different user, so one person's traits never reach another", () => {
    const a = new Identity(memoryStore(), memoryStore());
    a.identify('u1', { email: 'one@b.co' });
    expect(a.identify('u2', { name: 'Two' }).traits).toEqual({ name: 'Two' });
  });

  it('reset forgets the user and gives a new anonymous ID', () => {
    const a = new Identity(memoryStore(), memoryStore());
    const before = a.anonymousId();
    a.identify('u1', { email: 'a@b.co' });
    a.reset();
    const user = a.user();
    expect(user.userId).toBeNull();
    expect(user.traits).toEqual({});
    expect(user.anonymousId).toMatch(UUID);
    expect(user.anonymousId).not.toBe(before);
  });
});
