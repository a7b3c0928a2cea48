import {
  BatchEnvelope,
  CALL_TYPES,
  type CallType,
  LIMITS,
  type SegmentCall,
  SegmentCall as SegmentCallSchema,
} from '@tributary/spec';
import { type Context, Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { keyFromAuthorization, unauthorized } from '../http/auth';
import { badRequest, HttpError, validationError } from '../http/errors';
import type { KeyStore, ResolvedKey } from '../privacy/keys';
import type { BatchWriter } from './batch-writer';
import { type EventRow, type LinkOp, toCopyLine } from './event-row';
import { normalizeCall, type RequestInfo } from './normalize-call';
import { requestIp } from './request-ip';

export interface TrackingRoutesOptions {
  keys: KeyStore;
  writer: BatchWriter;
  /** Trust X-Forwarded-For for the caller's IP (behind a proxy). */
  trustProxy?: boolean;
  /** Told how many events each accepted request stored, for metrics. */
  onAccepted?: (count: number, startedAt: number) => void;
}

type Env = { Variables: { key: ResolvedKey } };

const byteLength = (s: string) => Buffer.byteLength(s, 'utf8');

/** Parses the body whatever its content type: Segment's libraries send JSON, some as text/plain to avoid CORS preflight. */
async function readJson(c: Context): Promise<{ body: Record<string, unknown>; bytes: number }> {
  const text = await c.req.text();
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
  return { body: body as Record<string, unknown>, bytes: byteLength(text) };
}

async function authenticate(c: Context<Env>, keys: KeyStore, body: Record<string, unknown>): Promise<ResolvedKey> {
  const secret =
    keyFromAuthorization(c.req.header('authorization')) ??
    (typeof body.writeKey === 'string' ? body.writeKey : undefined);
  if (!secret) throw unauthorized('A write key is required: Basic auth username or "writeKey" in the body');
  const key = await keys.resolve(secret);
  if (!key) throw unauthorized('The write key is not valid');
  return key;
}

/** Deep merge where `over` wins; used to fold a batch's top-level context into each event. */
function mergeDeep(base: unknown, over: unknown): unknown {
  if (!isPlainObject(base) || !isPlainObject(over)) return over === undefined ? base : over;
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) out[k] = mergeDeep(base[k], v);
  return out;
}
const isPlainObject = (v: unknown): v is Record<string, unknown> => !!v && typeof v === 'object' && !Array.isArray(v);

/** `checkSize` is false when the whole request is under the event limit, so no event can exceed it. */
function validateCall(raw: unknown, where?: string, checkSize = true): SegmentCall {
  if (checkSize && byteLength(JSON.stringify(raw) ?? '') > LIMITS.eventBytes) {
    throw new HttpError(413, 'event_too_large', `${where ? `${where}: ` : ''}an event must be at most 32 KB`);
  }
  const parsed = SegmentCallSchema.safeParse(raw);
  if (!parsed.success) throw validationError(parsed.error, where);
  return parsed.data;
}

/** Segment's HTTP Tracking API: `/v1/track|identify|page|screen|group|alias|batch`. */
export function trackingRoutes(options: TrackingRoutesOptions) {
  const { keys, writer, trustProxy, onAccepted } = { trustProxy: false, onAccepted: () => {}, ...options };
  const app = new Hono<Env>();

  app.use(
    '*',
    bodyLimit({
      maxSize: LIMITS.requestBytes,
      onError: () => {
        throw new HttpError(413, 'request_too_large', 'A request must be at most 500 KB');
      },
    }),
  );

  async function accept(c: Context<Env>, calls: SegmentCall[]) {
    const startedAt = performance.now();
    const req: RequestInfo = {
      receivedAt: new Date(),
      ip: requestIp(c, trustProxy),
      userAgent: c.req.header('user-agent') ?? null,
    };
    const rows: EventRow[] = [];
    const links: LinkOp[] = [];
    let copyText = '';
    for (const call of calls) {
      const { row, link } = normalizeCall(call, req);
      rows.push(row);
      // Encoded here, while other requests' transaction commits, to keep the commit path short.
      copyText += toCopyLine(row);
      if (link) links.push(link);
    }
    await writer.write({ rows, links, copyText });
    onAccepted(rows.length, startedAt);
    return c.json({ success: true, count: rows.length });
  }

  for (const type of CALL_TYPES) {
    app.post(`/${type}`, async (c) => {
      const { body } = await readJson(c);
      c.set('key', await authenticate(c, keys, body));
      return accept(c, [validateCall({ ...body, type: type satisfies CallType })]);
    });
  }

  app.post('/batch', async (c) => {
    const { body, bytes } = await readJson(c);
    c.set('key', await authenticate(c, keys, body));
    const envelope = BatchEnvelope.safeParse(body);
    if (!envelope.success) {
      const tooMany = envelope.error.issues.some((i) => i.code === 'too_big' && i.path[0] === 'batch');
      if (tooMany)
        throw new HttpError(413, 'batch_too_large', `A batch must hold at most ${LIMITS.batchEvents} events`);
      throw validationError(envelope.error);
    }
    const { batch, context, integrations, sentAt } = envelope.data;
    const calls = batch.map((item, i) => {
      if (!isPlainObject(item))
        throw badRequest(`batch.${i}: must be an object`, [{ path: `batch.${i}`, message: 'must be an object' }]);
      const merged = {
        ...item,
        context: mergeDeep(context, item.context),
        integrations: mergeDeep(integrations, item.integrations),
        sentAt: item.sentAt ?? sentAt,
      };
      return validateCall(merged, `batch.${i}`, bytes > LIMITS.eventBytes);
    });
    return accept(c, calls);
  });

  return app;
}
