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
import { isPlainObject } from '../is-plain-object';
import type { Keyring } from '../privacy/encryption';
import { verifyUserHash } from '../privacy/identity-verification';
import type { IpMode } from '../privacy/ip-mode';
import type { KeyStore, ResolvedKey } from '../privacy/keys';
import type { BatchWriter } from './batch-writer';
import { type EventRow, type LinkOp, toCopyLine } from './event-row';
import { normalizeCall, type RequestInfo } from './normalize-call';
import { requestIp } from './request-ip';

export interface TrackingRoutesOptions {
  keys: KeyStore;
  writer: BatchWriter;
  /** Seals the personal data in events' traits. */
  keyring: Keyring;
  /** Trust X-Forwarded-For for the caller's IP (behind a proxy). */
  trustProxy?: boolean;
  /** Consumes one request of the key's rate limit, throwing the 429 when it is spent. */
  rateLimit?: (keyId: string) => Promise<void>;
  /** What to keep of IP addresses. */
  ipMode?: IpMode;
  /** Identifiers whose events are not stored. */
  suppressions?: { suppresses(row: EventRow): boolean };
  /** Told how many events a request carried that were not stored, and why. */
  onDropped?: (count: number, reason: 'suppressed') => void;
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

/** `checkSize` is false when the whole request is under the event limit, so no event can exceed it. */
function validateCall(raw: unknown, where?: string, checkSize = true): SegmentCall {
  if (checkSize && byteLength(JSON.stringify(raw) ?? '') > LIMITS.eventBytes) {
    throw new HttpError(413, 'event_too_large', `${where ? `${where}: ` : ''}an event must be at most 32 KB`);
  }
  const parsed = SegmentCallSchema.safeParse(raw);
  if (!parsed.success) throw validationError(parsed.error, where);
  return parsed.data;
}

const hasValidUserHash = (key: ResolvedKey, call: SegmentCall) =>
  !!key.verificationSecret &&
  !!call.userId &&
  verifyUserHash(key.verificationSecret, call.userId, call.context?.userHash);

/**
 * With identity verification on for the key, every identify and alias naming a userId must carry
 * `context.userHash`, the HMAC of the userId the site's backend computed: otherwise a visitor could
 * attach themselves to someone else's profile. A missing or wrong signature refuses the request.
 */
function checkIdentityVerification(key: ResolvedKey, calls: SegmentCall[]) {
  if (!key.verificationSecret) return;
  calls.forEach((call, i) => {
    if ((call.type === 'identify' || call.type === 'alias') && call.userId && !hasValidUserHash(key, call)) {
      const path = calls.length > 1 ? `batch.${i}.context.userHash` : 'context.userHash';
      throw new HttpError(403, 'identity_verification_failed', `${path}: a valid signature of the userId is required`, [
        { path, message: 'missing or wrong HMAC-SHA256 of the userId' },
      ]);
    }
  });
}

/** Segment's HTTP Tracking API: `/v1/track|identify|page|screen|group|alias|batch`. */
export function trackingRoutes(options: TrackingRoutesOptions) {
  const { keys, writer, keyring, trustProxy, onAccepted, rateLimit, ipMode, suppressions, onDropped } = {
    trustProxy: false,
    onAccepted: () => {},
    rateLimit: async () => {},
    ipMode: 'keep' as IpMode,
    suppressions: { suppresses: () => false },
    onDropped: () => {},
    ...options,
  };
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
    const key = c.get('key');
    checkIdentityVerification(key, calls);
    const req: RequestInfo = {
      receivedAt: new Date(),
      ip: requestIp(c, trustProxy),
      userAgent: c.req.header('user-agent') ?? null,
      ipMode,
      keyring,
    };
    const rows: EventRow[] = [];
    const links: LinkOp[] = [];
    let copyText = '';
    let suppressed = 0;
    for (const call of calls) {
      const { row, link } = normalizeCall(call, req);
      if (suppressions.suppresses(row)) {
        suppressed++;
        continue;
      }
      rows.push(row);
      // Encoded here, while other requests' transaction commits, to keep the commit path short.
      copyText += toCopyLine(row);
      // With identity verification, only a signed call may link a userId to this visitor.
      if (link && (!key.verificationSecret || link.kind !== 'implicit' || hasValidUserHash(key, call)))
        links.push(link);
    }
    if (suppressed) onDropped(suppressed, 'suppressed');
    if (rows.length) await writer.write({ rows, links, copyText });
    onAccepted(rows.length, startedAt);
    // Suppressed events are acknowledged like the others: a sender must not learn who is suppressed.
    return c.json({ success: true, count: calls.length });
  }

  for (const type of CALL_TYPES) {
    app.post(`/${type}`, async (c) => {
      const { body } = await readJson(c);
      c.set('key', await authenticate(c, keys, body));
      await rateLimit(c.get('key').id);
      return accept(c, [validateCall({ ...body, type: type satisfies CallType })]);
    });
  }

  app.post('/batch', async (c) => {
    const { body, bytes } = await readJson(c);
    c.set('key', await authenticate(c, keys, body));
    await rateLimit(c.get('key').id);
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
