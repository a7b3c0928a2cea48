import { consentFromCategories, consentPreferencesOf } from '../profiles/consent-categories';
import {
  type EventConsent,
  type EventRow,
  type EventSummary,
  encodeRow,
  type IngestBatch,
  type LinkOp,
} from './event-row';

const encoder = new TextEncoder();

const CONSENT_MEMO_MAX = 1_000;
const consentMemo = new Map<string, EventConsent>();

/**
 * The consent that `categoryPreferences` give, one object for each distinct preferences: a site's
 * events carry a few variants, and the events of a request that share one object cross to the main
 * thread as one (structured cloning keeps shared references shared). Frozen, since it is shared.
 */
function eventConsent(preferences: Record<string, unknown>): EventConsent {
  const key = JSON.stringify(preferences);
  let consent = consentMemo.get(key);
  if (!consent) {
    if (consentMemo.size >= CONSENT_MEMO_MAX) consentMemo.clear();
    consent = Object.freeze(Object.fromEntries(consentFromCategories(preferences)));
    consentMemo.set(key, consent);
  }
  return consent;
}

/** What a flush needs of a row besides its text (see `EventSummary`). */
function summarize(row: EventRow, link: LinkOp | null, index: number, identifiers: string[] | null): EventSummary {
  const preferences = consentPreferencesOf(row);
  return {
    index,
    message_id: row.message_id,
    customer_id: row.customer_id,
    anonymous_id: row.anonymous_id,
    user_id: row.user_id,
    call_type: row.call_type,
    timestamp: row.timestamp,
    ip_address: row.ip_address,
    user_hash: row.context.userHash ?? null,
    consent: preferences ? eventConsent(preferences) : null,
    link,
    identifiers,
  };
}

/**
 * Rows with their identity work as an `IngestBatch`: summarized, and encoded as COPY text into one
 * buffer. An event whose JSON (properties, context, metadata) exceeds `maxEventBytes` is left out
 * and named in `tooLarge`. `indices` are the events' positions in their request (by default, in `decoded`).
 */
export function toIngestBatch(
  decoded: readonly { row: EventRow; link: LinkOp | null; identifiers?: string[] | null }[],
  options: { maxEventBytes?: number; indices?: readonly number[] } = {},
): { batch: IngestBatch; tooLarge: number[] } {
  const { maxEventBytes = Number.POSITIVE_INFINITY, indices } = options;
  const lines: string[] = [];
  // Filled by push: an array made by `map` has holes as far as V8 knows, and structured cloning sends
  // such an array entry by entry, which costs the main thread several times more to read.
  const events: EventSummary[] = [];
  const tooLarge: number[] = [];
  const lineStarts = new Uint32Array(decoded.length + 1);
  decoded.forEach(({ row, link, identifiers = null }, i) => {
    const index = indices ? (indices[i] as number) : i;
    const { line, jsonBytes } = encodeRow(row);
    if (jsonBytes > maxEventBytes) {
      tooLarge.push(index);
      return;
    }
    lines.push(line);
    lineStarts[events.length + 1] = (lineStarts[events.length] as number) + Buffer.byteLength(line);
    events.push(summarize(row, link, index, identifiers));
  });
  return {
    batch: {
      events,
      // TextEncoder gives the text a buffer of its own (Buffer.from may use a shared pool), so it can be transferred.
      copy: encoder.encode(lines.join('')),
      lineStarts: tooLarge.length ? lineStarts.slice(0, events.length + 1) : lineStarts,
    },
    tooLarge,
  };
}

/** Events `from` to `to` (excluded) of a batch, sharing its text: how a flush the database refused is narrowed down. */
export function sliceBatch(batch: IngestBatch, from: number, to: number): IngestBatch {
  const start = batch.lineStarts[from] as number;
  const lineStarts = batch.lineStarts.slice(from, to + 1).map((at) => at - start);
  return {
    events: batch.events.slice(from, to),
    copy: batch.copy.subarray(start, batch.lineStarts[to]),
    lineStarts,
    ...signedOf(batch),
  };
}

/** The batch with only the events `keep` accepts, their lines cut from its text; the batch itself when all are kept. */
export function keepEvents(batch: IngestBatch, keep: (event: EventSummary) => boolean): IngestBatch {
  const kept: number[] = [];
  batch.events.forEach((event, i) => {
    if (keep(event)) kept.push(i);
  });
  if (kept.length === batch.events.length) return batch;
  const lines = kept.map((i) => batch.copy.subarray(batch.lineStarts[i], batch.lineStarts[i + 1]));
  const lineStarts = new Uint32Array(kept.length + 1);
  lines.forEach((line, i) => {
    lineStarts[i + 1] = (lineStarts[i] as number) + line.length;
  });
  return {
    events: kept.map((i) => batch.events[i] as EventSummary),
    copy: Buffer.concat(lines),
    lineStarts,
    ...signedOf(batch),
  };
}

/** A part of a batch keeps the batch's signed events: without them, consent would take its unsigned word. */
const signedOf = ({ signed }: IngestBatch) => (signed ? { signed } : {});
