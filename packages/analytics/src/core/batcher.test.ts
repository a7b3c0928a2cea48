import { describe, expect, it } from 'vitest';
import { batchBody, chunk, eventBytes, utf8Length } from './batcher';
import type { WireEvent } from './wire';

const event = (i: number, extra = ''): WireEvent => ({
  type: 'track',
  messageId: `m${i}`,
  anonymousId: 'a',
  timestamp: '2024-01-01T00:00:00.000Z',
  context: {},
  event: `e${i}`,
  properties: { extra },
});

describe('utf8Length', () => {
  it.each(['', 'ascii', 'café', '日本語', '😀 emoji 👍🏽', 'mixed é 日 😀 \u0080 \u07ff \u0800 \uffff'])(
    'counts the bytes of %j as Buffer.byteLength does',
    (s) => expect(utf8Length(s)).toBe(Buffer.byteLength(s, 'utf8')),
  );
});

describe('chunk', () => {
  it('keeps order and splits by count', () => {
    const events = Array.from({ length: 25 }, (_, i) => event(i));
    const parts = chunk(events, 500 * 1024, 10);
    expect(parts.map((p) => p.length)).toEqual([10, 10, 5]);
    expect(parts.flat()).toEqual(events);
  });

  it('keeps every request body within the byte limit', () => {
    const events = Array.from({ length: 40 }, (_, i) => event(i, 'x'.repeat(3000 + i * 10)));
    const limit = 20 * 1024;
    const parts = chunk(events, limit, 500);
    expect(parts.length).toBeGreaterThan(5);
    for (const p of parts) expect(Buffer.byteLength(batchBody(p, 'wk_test_write_key'))).toBeLessThan(limit);
    expect(parts.flat()).toEqual(events);
  });

  it('gives an event larger than the limit a batch of its own', () => {
    const parts = chunk([event(1), event(2, 'x'.repeat(5000)), event(3)], 4096, 100);
    expect(parts.map((p) => p.map((e) => e.messageId))).toEqual([['m1'], ['m2'], ['m3']]);
  });

  it('measures an event as its JSON plus a separator', () => {
    expect(eventBytes(event(1))).toBe(JSON.stringify(event(1)).length + 1);
  });
});

describe('batchBody', () => {
  it('stamps sentAt at send time on the envelope and every event, with the write key', () => {
    const now = new Date('2024-05-01T10:00:00.000Z');
    const body = JSON.parse(batchBody([event(1), event(2)], 'wk_1', now));
    expect(body.sentAt).toBe(now.toISOString());
    expect(body.writeKey).toBe('wk_1');
    expect(body.batch.map((e: WireEvent) => e.sentAt)).toEqual([now.toISOString(), now.toISOString()]);
    expect(JSON.parse(batchBody([event(1)])).writeKey).toBeUndefined();
  });
});
