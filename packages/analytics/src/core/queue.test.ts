import { describe, expect, it } from 'vitest';
import { MemoryQueue } from './queue';
import type { WireEvent } from './wire';

const e = (id: string): WireEvent => ({ type: 'track', messageId: id, timestamp: '', context: {}, event: 'x' });
const ids = (events: WireEvent[]) => events.map((x) => x.messageId);

describe('MemoryQueue', () => {
  it('leases oldest first and never the same event twice while leased', () => {
    const q = new MemoryQueue();
    for (const id of ['a', 'b', 'c', 'd']) q.push(e(id));
    expect(ids(q.lease(2))).toEqual(['a', 'b']);
    expect(ids(q.lease(5))).toEqual(['c', 'd']);
    expect(q.lease(5)).toEqual([]);
    expect(q.available()).toBe(0);
  });

  it('keeps a released event in its place and removes an acknowledged one', () => {
    const q = new MemoryQueue();
    for (const id of ['a', 'b', 'c']) q.push(e(id));
    q.lease(2);
    q.ack(['b']);
    q.release(['a']);
    expect(q.available()).toBe(2);
    expect(ids(q.lease(5))).toEqual(['a', 'c']);
    expect(ids(q.all())).toEqual(['a', 'c']);
  });

  it('is bounded: the oldest are dropped first and reported', () => {
    const dropped: string[][] = [];
    const q = new MemoryQueue(3, (d) => dropped.push(d));
    for (const id of ['a', 'b', 'c', 'd', 'e']) q.push(e(id));
    expect(ids(q.all())).toEqual(['c', 'd', 'e']);
    expect(dropped).toEqual([['a'], ['b']]);
  });

  it('clear empties it', () => {
    const q = new MemoryQueue();
    q.push(e('a'));
    q.lease(1);
    q.clear();
    expect(q.available()).toBe(0);
    expect(q.all()).toEqual([]);
  });
});
