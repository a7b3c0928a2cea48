import { describe, expect, it } from 'vitest';
import { buildEvent } from './event-builder';

describe('buildEvent', () => {
  const now = new Date('2024-03-01T12:00:00.000Z');

  it('builds a Segment-spec track with a fresh messageId, the time, the IDs and the context', () => {
    const a = buildEvent(
      'track',
      { event: 'Signed Up', properties: { plan: 'pro' } },
      { anonymousId: 'a1', userId: 'u1' },
      { locale: 'en' },
      {},
      now,
    );
    const b = buildEvent('track', { event: 'Signed Up' }, { anonymousId: 'a1' }, {}, {}, now);
    expect(a).toMatchObject({
      type: 'track',
      event: 'Signed Up',
      properties: { plan: 'pro' },
      anonymousId: 'a1',
      userId: 'u1',
      timestamp: now.toISOString(),
      context: { locale: 'en' },
    });
    expect(a.messageId).not.toBe(b.messageId);
    expect(a.sentAt).toBeUndefined(); // set when the batch leaves
    expect('userId' in b).toBe(false);
  });

  it('applies options: eventType (tracks only), timestamp, deep-merged context, overriding IDs', () => {
    const e = buildEvent(
      'track',
      { event: 'Order Completed' },
      { anonymousId: 'a1', userId: 'u1' },
      { page: { path: '/', title: 'Home' } },
      {
        eventType: 'PURCHASE',
        timestamp: '2024-01-01T00:00:00Z',
        context: { page: { title: 'Cart' } },
        userId: 'u2',
        messageId: 'mine',
      },
      now,
    );
    expect(e).toMatchObject({
      eventType: 'PURCHASE',
      timestamp: '2024-01-01T00:00:00.000Z',
      context: { page: { path: '/', title: 'Cart' } },
      userId: 'u2',
      messageId: 'mine',
    });
    expect(
      buildEvent('page', { name: 'Home' }, { anonymousId: 'a' }, {}, { eventType: 'PURCHASE' }).eventType,
    ).toBeUndefined();
  });

  it('leaves out fields that were not given', () => {
    const e = buildEvent(
      'page',
      { name: undefined, category: undefined, properties: { path: '/' } },
      { anonymousId: 'a' },
      {},
    );
    expect(Object.keys(e).sort()).toEqual(['anonymousId', 'context', 'messageId', 'properties', 'timestamp', 'type']);
  });
});
