import {
  BatchEnvelope,
  type CallType,
  LIMITS,
  type SegmentCall,
  SegmentCall as SegmentCallSchema,
} from '@tributary/spec';
import { badRequest, HttpError, validationError } from '../http/errors';
import { isPlainObject } from '../is-plain-object';
import type { IngestBatch } from './event-row';
import { EventTooLarge, toIngestBatch } from './ingest-batch';
import { normalizeCall, type RequestInfo } from './normalize-call';

/** One request to `/v1/<type>` or `/v1/batch`: its body, and what enrichment takes from the request. */
export interface DecodeInput extends RequestInfo {
  text: string;
  /** The endpoint: a call type, or `batch`. */
  endpoint: CallType | 'batch';
}

/**
 * What a request body comes to. `writeKey` is whatever the body named, for authentication; the
 * errors are kept apart so the caller can answer them in the order Segment does: an unreadable body
 * (400) before authentication (401), invalid events (400, 413) after it.
 */
export type DecodeResult =
  | { parseError: HttpError }
  | { writeKey: string | undefined; error: HttpError }
  | { writeKey: string | undefined; batch: IngestBatch };

/** Parses the body whatever its content type: Segment's libraries send JSON, some as text/plain to avoid CORS preflight. */
function parseBody(text: string): Record<string, unknown> {
  if (!text.trim()) throw badRequest('The request body is empty');
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (e) {
    throw new HttpError(400, 'invalid_json', `The body is not valid JSON: ${(e as Error).message}`);
  }
  if (!body || typeof body !== 'object' || Array.isArray(body)) throw badRequest('The body must be a JSON object');
  // PostgreSQL cannot store U+0000 in text or jsonb; refuse it here rather than fail the whole commit.
  if (text.includes('\\u0000')) throw badRequest('The body contains a U+0000 character, which cannot be stored');
  return body as Record<string, unknown>;
}

/** Deep merge where `over` wins; used to fold a batch's top-level context into each event. */
function mergeDeep(base: unknown, over: unknown): unknown {
  if (!isPlainObject(base) || !isPlainObject(over)) return over === undefined ? base : over;
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) out[k] = mergeDeep(base[k], v);
  return out;
}

function validateCall(raw: unknown, where?: string): SegmentCall {
  const parsed = SegmentCallSchema.safeParse(raw);
  if (!parsed.success) throw validationError(parsed.error, where);
  return parsed.data;
}

/** The calls of a batch body, each validated, with the batch's context, integrations and sentAt folded in. */
function batchCalls(body: Record<string, unknown>): SegmentCall[] {
  const envelope = BatchEnvelope.safeParse(body);
  if (!envelope.success) {
    const tooMany = envelope.error.issues.some((i) => i.code === 'too_big' && i.path[0] === 'batch');
    if (tooMany) throw new HttpError(413, 'batch_too_large', `A batch must hold at most ${LIMITS.batchEvents} events`);
    throw validationError(envelope.error);
  }
  const { batch, context, integrations, sentAt } = envelope.data;
  return batch.map((item, i) => {
    if (!isPlainObject(item))
      throw badRequest(`batch.${i}: must be an object`, [{ path: `batch.${i}`, message: 'must be an object' }]);
    // The call as validated is a copy of its own: the batch's fields are folded into it, both sides valid.
    const call = validateCall(item, `batch.${i}`);
    if (context) call.context = mergeDeep(context, call.context) as SegmentCall['context'];
    if (integrations) call.integrations = mergeDeep(integrations, call.integrations) as SegmentCall['integrations'];
    call.sentAt ??= sentAt;
    return call;
  });
}

/**
 * A tracking request's body as an `IngestBatch`: parsed, validated, enriched, summarized and encoded
 * as COPY text. Pure CPU work with no I/O, so it can run on a worker thread (see request-decoder.ts).
 */
export function decodeRequest(input: DecodeInput): DecodeResult {
  let body: Record<string, unknown>;
  try {
    body = parseBody(input.text);
  } catch (e) {
    if (e instanceof HttpError) return { parseError: e };
    throw e;
  }
  const writeKey = typeof body.writeKey === 'string' ? body.writeKey : undefined;
  try {
    const calls = input.endpoint === 'batch' ? batchCalls(body) : [validateCall({ ...body, type: input.endpoint })];
    const decoded = calls.map((call) => normalizeCall(call, input));
    return { writeKey, batch: toIngestBatch(decoded, LIMITS.eventBytes) };
  } catch (e) {
    if (e instanceof EventTooLarge) {
      const where = input.endpoint === 'batch' ? `batch.${e.index}: ` : '';
      return { writeKey, error: new HttpError(413, 'event_too_large', `${where}an event must be at most 32 KB`) };
    }
    if (e instanceof HttpError) return { writeKey, error: e };
    throw e;
  }
}
