import { SegmentCall } from '@tributary/spec';
import { describe, expect, it } from 'vitest';
import { generateKeyMaterial, parseKeyring } from '../privacy/encryption';
import { type IngestBatch, toCopyLine } from './event-row';
import { keepEvents, sliceBatch, toIngestBatch } from './ingest-batch';
import { normalizeCall } from './normalize-call';

const keyring = parseKeyring(`k1:${generateKeyMaterial()}`, generateKeyMaterial());
const decode = (raw: Record<string, unknown>) =>
  normalizeCall(SegmentCall.parse(raw), { receivedAt: new Date(), ip: '198.51.100.4', userAgent: null, keyring });

const calls = [
  { type: 'track', messageId: 'm1', anonymousId: 'a1', event: 'Zürich ✓', properties: { emoji: '🚀' } },
  {
    type: 'identify',
    messageId: 'm2',
    userId: 'u1',
    anonymousId: 'a1',
    context: { userHash: 'f00d', consent: { categoryPreferences: { analytics: true, marketing: false } } },
  },
  { type: 'page', messageId: 'm3', anonymousId: 'a2', name: 'Plain' },
];

describe('ingest batches', () => {
  it('holds each event as a summary and its COPY line at the byte offsets of the UTF-8 text', () => {
    const decoded = calls.map(decode);
    const { batch } = toIngestBatch(decoded);
    const lineOf = (i: number) =>
      Buffer.from(batch.copy.subarray(batch.lineStarts[i], batch.lineStarts[i + 1])).toString('utf8');
    expect(decoded.map((_, i) => lineOf(i))).toEqual(decoded.map(({ row }) => toCopyLine(row)));
    expect(batch.lineStarts[3]).toBe(batch.copy.length);
    expect(batch.events[1]).toMatchObject({
      message_id: 'm2',
      user_id: 'u1',
      anonymous_id: 'a1',
      call_type: 'identify',
      ip_address: '198.51.100.4',
      user_hash: 'f00d',
      link: { kind: 'identify', userId: 'u1', anonymousId: 'a1' },
    });
    expect(batch.events[1]?.consent).toEqual({
      ANALYTICS_TRACKING: true,
      MARKETING_EMAIL: false,
      MARKETING_SMS: false,
      MARKETING_PUSH: false,
    });
    expect(batch.events[0]?.consent).toBeNull();
    // Events carrying the same preferences share one (frozen) object, which crosses threads once.
    const { batch: again } = toIngestBatch([decode(calls[1] as Record<string, unknown>)]);
    expect(again.events[0]?.consent).toBe(batch.events[1]?.consent);
    expect(Object.isFrozen(again.events[0]?.consent)).toBe(true);
  });

  it('leaves out an event whose JSON (properties, context, metadata) is over the limit in UTF-8 bytes, naming it', () => {
    const big = decode({ type: 'track', anonymousId: 'a', event: 'e', properties: { s: 'é'.repeat(600) } });
    const decoded = [calls[0], calls[2]].map((c) => decode(c as Record<string, unknown>));
    const { properties, context } = big.row;
    const bytes = Buffer.byteLength(JSON.stringify(properties)) + Buffer.byteLength(JSON.stringify(context));
    expect(bytes).toBeGreaterThan(1200); // 'é' is two bytes: a count of characters would be under
    expect(toIngestBatch([...decoded, big], { maxEventBytes: bytes }).batch.events).toHaveLength(3);
    const [first, second] = decoded as [(typeof decoded)[number], (typeof decoded)[number]];
    const { batch, tooLarge } = toIngestBatch([first, big, second], { maxEventBytes: bytes - 1, indices: [4, 7, 9] });
    expect(tooLarge).toEqual([7]);
    expect(batch.events.map((e) => [e.index, e.message_id])).toEqual([
      [4, 'm1'],
      [9, 'm3'],
    ]);
    expect(Buffer.from(batch.copy).toString('utf8')).toBe(toCopyLine(first.row) + toCopyLine(second.row));
    expect(batch.lineStarts).toHaveLength(3);
    expect(batch.lineStarts[2]).toBe(batch.copy.length);
  });

  it('slices a batch into parts that share its text', () => {
    const decoded = calls.map(decode);
    const { batch } = toIngestBatch(decoded);
    const tail = sliceBatch(batch, 1, 3);
    expect(tail.events.map((e) => e.message_id)).toEqual(['m2', 'm3']);
    expect(Buffer.from(tail.copy).toString('utf8')).toBe(
      decoded
        .slice(1)
        .map((d) => toCopyLine(d.row))
        .join(''),
    );
    expect([...tail.lineStarts]).toEqual([0, lineBytes(batch, 1), lineBytes(batch, 1) + lineBytes(batch, 2)]);
    expect(tail.copy.buffer).toBe(batch.copy.buffer);
  });

  it('cuts the lines of the events not kept, and keeps the batch itself when every event stays', () => {
    const decoded = calls.map(decode);
    const { batch } = toIngestBatch(decoded);
    expect(keepEvents(batch, () => true)).toBe(batch);

    const kept = keepEvents(batch, (e) => e.message_id !== 'm2');
    expect(kept.events.map((e) => e.message_id)).toEqual(['m1', 'm3']);
    const line = (i: number) => toCopyLine((decoded[i] as (typeof decoded)[number]).row);
    expect(Buffer.from(kept.copy).toString('utf8')).toBe(line(0) + line(2));
    expect([...kept.lineStarts]).toEqual([0, lineBytes(batch, 0), lineBytes(batch, 0) + lineBytes(batch, 2)]);

    const none = keepEvents(batch, () => false);
    expect(none.events).toEqual([]);
    expect(none.copy.length).toBe(0);
  });
});

const lineBytes = (batch: IngestBatch, i: number) =>
  (batch.lineStarts[i + 1] as number) - (batch.lineStarts[i] as number);
