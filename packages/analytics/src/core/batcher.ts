import type { WireEvent } from './wire';

/** The collector's limits (Segment's): a request of at most 500 KB, an event of at most 32 KB. */
export const MAX_BATCH_BYTES = 500 * 1024;
export const MAX_EVENT_BYTES = 32 * 1024;
export const MAX_BATCH_EVENTS = 2500;
/** Keepalive requests share a 64 KB budget per page, so chunks stay below it. */
export const MAX_KEEPALIVE_BYTES = 60 * 1024;
/** Room kept for the envelope: `{"batch":[...],"sentAt":"...","writeKey":"..."}`. */
const ENVELOPE_BYTES = 1024;

/** UTF-8 byte length of a string, without allocating (TextEncoder would copy it). */
export function utf8Length(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c < 0xdc00) {
      n += 4; // a surrogate pair is one 4-byte character
      i++;
    } else n += 3;
  }
  return n;
}

/** Bytes an event takes in a batch (its JSON plus a comma). */
export const eventBytes = (event: WireEvent) => utf8Length(JSON.stringify(event)) + 1;

/**
 * Splits events, oldest first, into batches within a byte and a count limit. An event that alone
 * exceeds the byte limit gets a batch of its own (the caller refuses those before queueing).
 *
 * @example
 * chunk(events, MAX_KEEPALIVE_BYTES, 100) // -> [[e1, e2, ...], [e40, ...]]
 */
export function chunk(events: readonly WireEvent[], maxBytes: number, maxCount: number): WireEvent[][] {
  const out: WireEvent[][] = [];
  let current: WireEvent[] = [];
  let bytes = ENVELOPE_BYTES;
  for (const e of events) {
    const size = eventBytes(e);
    if (current.length && (bytes + size > maxBytes || current.length >= maxCount)) {
      out.push(current);
      current = [];
      bytes = ENVELOPE_BYTES;
    }
    current.push(e);
    bytes += size;
  }
  if (current.length) out.push(current);
  return out;
}

/**
 * The request body of `POST /v1/batch`, stamping `sentAt` on each event as it leaves.
 *
 * @example
 * batchBody(events, 'wk_...') // '{"batch":[...],"sentAt":"2024-...","writeKey":"wk_..."}'
 */
export function batchBody(events: readonly WireEvent[], writeKey?: string, now: Date = new Date()): string {
  const sentAt = now.toISOString();
  return JSON.stringify({ batch: events.map((e) => ({ ...e, sentAt })), sentAt, ...(writeKey ? { writeKey } : {}) });
}
