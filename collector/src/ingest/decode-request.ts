import {
  BatchEnvelope,
  type CallType,
  LIMITS,
  type RefusedEvent,
  type SegmentCall,
  SegmentCall as SegmentCallSchema,
} from '@tributary/spec';
import { checkJson, type JsonViolation, jsonLimitError } from '../http/bounded-json';
import { badRequest, errorSummary, HttpError, stackOf, validationError } from '../http/errors';
import { isPlainObject } from '../is-plain-object';
import type { EventRow, IngestBatch, LinkOp } from './event-row';
import { toIngestBatch } from './ingest-batch';
import { normalizeCall, type RequestInfo } from './normalize-call';
import { byIndex, refusedEvent } from './refused-events';

/** One request to `/v1/<type>` or `/v1/batch`: its body, and what enrichment takes from the request. */
export interface DecodeInput extends RequestInfo {
  text: string;
  /** The endpoint: a call type, or `batch`. */
  endpoint: CallType | 'batch';
}

/**
 * What a request body comes to. `writeKey` is whatever the body named, for authentication; the
 * errors are kept apart so the caller can answer them in the order Segment does: an unreadable body
 * (400) before authentication (401), invalid events (400, 413) after it. A batch's events are judged
 * one by one: those refused are listed in `refused` (by their index in the batch), the rest are in
 * `batch`; a single call that is refused is an `error`.
 */
export type DecodeResult =
  | { parseError: HttpError }
  | { writeKey: string | undefined; error: HttpError }
  | { writeKey: string | undefined; batch: IngestBatch; refused: RefusedEvent[] };

/** A body's parsed JSON, and what the batch events it holds break of the JSON limits, by index. */
interface Body {
  json: Record<string, unknown>;
  overLimits: Map<number, JsonViolation>;
}

/**
 * Parses the body whatever its content type (Segment's libraries send JSON, some as text/plain to
 * avoid CORS preflight), once its text passed the JSON limits. A batch event over them (nested too
 * deep, too wide, holding U+0000) is refused alone; anywhere else the request is.
 */
function parseBody(text: string, endpoint: DecodeInput['endpoint']): Body {
  if (!text.trim()) throw badRequest('The request body is empty');
  const checked = checkJson(text, { groupDepth: 2, maxViolations: LIMITS.batchEvents });
  const overLimits = new Map<number, JsonViolation>();
  for (const v of checked.violations) {
    const index = v.path[1];
    if (endpoint === 'batch' && v.path[0] === 'batch' && typeof index === 'number') overLimits.set(index, v);
    else throw jsonLimitError(v);
  }
  if (checked.overflow) throw badRequest('The body breaks the JSON limits in too many places');
  let json: unknown;
  try {
    json = JSON.parse(checked.text);
  } catch (e) {
    throw new HttpError(400, 'invalid_json', `The body is not valid JSON: ${(e as Error).message}`);
  }
  if (!isPlainObject(json)) throw badRequest('The body must be a JSON object');
  return { json, overLimits };
}

/**
 * Deep merge where `over` wins; used to fold a batch's top-level context into each event. Keys are
 * the sender's: only own ones are read, and `__proto__` is defined as data rather than assigned.
 */
function mergeDeep(base: unknown, over: unknown): unknown {
  if (!isPlainObject(base) || !isPlainObject(over)) return over === undefined ? base : over;
  const out: Record<string, unknown> = { ...base };
  for (const k of Object.keys(over)) {
    const v = mergeDeep(Object.hasOwn(base, k) ? base[k] : undefined, over[k]);
    if (k === '__proto__')
      Object.defineProperty(out, k, { value: v, enumerable: true, writable: true, configurable: true });
    else out[k] = v;
  }
  return out;
}

function validateCall(raw: unknown, where?: string): SegmentCall {
  const parsed = SegmentCallSchema.safeParse(raw);
  if (!parsed.success) throw validationError(parsed.error, where);
  return parsed.data;
}

type Decoded = { row: EventRow; link: LinkOp | null };

/**
 * A batch body's events, each validated and enriched on its own, with the batch's context,
 * integrations and sentAt folded in; what is wrong with an event refuses that event alone.
 */
function decodeBatch(body: Body, input: DecodeInput): { batch: IngestBatch; refused: RefusedEvent[] } {
  const envelope = BatchEnvelope.safeParse(body.json);
  if (!envelope.success) {
    const tooMany = envelope.error.issues.some((i) => i.code === 'too_big' && i.path[0] === 'batch');
    if (tooMany) throw new HttpError(413, 'batch_too_large', `A batch must hold at most ${LIMITS.batchEvents} events`);
    throw validationError(envelope.error);
  }
  const { batch, context, integrations, sentAt } = envelope.data;
  const refused: RefusedEvent[] = [];
  const decoded: Decoded[] = [];
  const indices: number[] = [];
  for (const [i, item] of batch.entries()) {
    const overLimits = body.overLimits.get(i);
    if (overLimits) {
      refused.push(refusedEvent(i, item, jsonLimitError(overLimits)));
      continue;
    }
    if (!isPlainObject(item)) {
      const error = badRequest(`batch.${i}: must be an object`, [{ path: `batch.${i}`, message: 'must be an object' }]);
      refused.push(refusedEvent(i, item, error));
      continue;
    }
    try {
      // The call as validated is a copy of its own: the batch's fields are folded into it, both sides valid.
      const call = validateCall(item, `batch.${i}`);
      if (context) call.context = mergeDeep(context, call.context) as SegmentCall['context'];
      if (integrations) call.integrations = mergeDeep(integrations, call.integrations) as SegmentCall['integrations'];
      call.sentAt ??= sentAt;
      decoded.push(normalizeCall(call, input));
      indices.push(i);
    } catch (e) {
      refused.push(refusedEvent(i, item, e instanceof HttpError ? e : unprocessable(e, `batch.${i}`)));
    }
  }
  const { batch: ingest, tooLarge } = toIngestBatch(decoded, { maxEventBytes: LIMITS.eventBytes, indices });
  for (const i of tooLarge) refused.push(refusedEvent(i, batch[i], eventTooLarge(`batch.${i}: `)));
  if (tooLarge.length) refused.sort(byIndex);
  return { batch: ingest, refused };
}

const eventTooLarge = (where: string) =>
  new HttpError(413, 'event_too_large', `${where}an event must be at most ${LIMITS.eventBytes / 1024} KB`);

/**
 * A valid event the collector failed to process: a bug, logged, and that event refused rather than
 * its batch failed (a sender would retry the whole batch, forever).
 */
function unprocessable(e: unknown, where: string): HttpError {
  // The summary and the stack, never the error itself: its message may quote the event's data.
  console.error(`decoding ${where} failed: ${errorSummary(e)}${stackOf(e)}`);
  return new HttpError(400, 'unprocessable_event', `${where}: the collector could not process this event`);
}

/**
 * A tracking request's body as an `IngestBatch`: parsed, validated, enriched, summarized and encoded
 * as COPY text. Pure CPU work with no I/O, so it can run on a worker thread (see request-decoder.ts).
 */
export function decodeRequest(input: DecodeInput): DecodeResult {
  let body: Body;
  try {
    body = parseBody(input.text, input.endpoint);
  } catch (e) {
    if (e instanceof HttpError) return { parseError: e };
    throw e;
  }
  const writeKey = typeof body.json.writeKey === 'string' ? body.json.writeKey : undefined;
  try {
    if (input.endpoint === 'batch') return { writeKey, ...decodeBatch(body, input) };
    const call = validateCall({ ...body.json, type: input.endpoint });
    const { batch, tooLarge } = toIngestBatch([normalizeCall(call, input)], { maxEventBytes: LIMITS.eventBytes });
    if (tooLarge.length) return { writeKey, error: eventTooLarge('') };
    return { writeKey, batch, refused: [] };
  } catch (e) {
    if (e instanceof HttpError) return { writeKey, error: e };
    throw e;
  }
}
