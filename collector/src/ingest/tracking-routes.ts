import { CALL_TYPES, type CallType, LIMITS, type RefusedEvent } from '@tributary/spec';
import { type Context, Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { keyFromAuthorization, unauthorized } from '../http/auth';
import { requestTooLarge } from '../http/bounded-body';
import { HttpError } from '../http/errors';
import type { Keyring } from '../privacy/encryption';
import { verifyUserHash } from '../privacy/identity-verification';
import type { IpMode } from '../privacy/ip-mode';
import type { KeyStore, ResolvedKey } from '../privacy/keys';
import type { BatchWriter } from './batch-writer';
import type { EventSummary } from './event-row';
import { keepEvents } from './ingest-batch';
import { byIndex, everyEventRefused, notStorable, refusedEvent } from './refused-events';
import { requestBodyText } from './request-body';
import { sharedRequestDecoder } from './request-decoder';
import { requestIp } from './request-ip';
import type { TrustProxy } from './trust-proxy';

export interface TrackingRoutesOptions {
  keys: KeyStore;
  writer: BatchWriter;
  /** Seals the personal data in events' traits. */
  keyring: Keyring;
  /** Which reverse proxies may name the caller in X-Forwarded-For or Forwarded (TRUST_PROXY). */
  trustProxy?: TrustProxy;
  /** Consumes one request of the key's rate limit, throwing the 429 when it is spent. */
  rateLimit?: (keyId: string) => Promise<void>;
  /** Consumes one request of the caller's IP address's rate limit, throwing the 429 when it is spent. */
  rateLimitIp?: (ip: string | null) => Promise<void>;
  /** What to keep of IP addresses. */
  ipMode?: IpMode;
  /** Country assumed for phone numbers in traits written without a country code. */
  defaultPhoneCountry?: string;
  /** Identifiers whose events are not stored. */
  suppressions?: { suppresses(event: EventSummary): boolean };
  /** Told how many events a request carried that were not stored, and why. */
  onDropped?: (count: number, reason: 'suppressed') => void;
  /** Told how many events each accepted request stored, for metrics. */
  onAccepted?: (count: number, startedAt: number) => void;
}

type Env = { Variables: { key?: ResolvedKey; ip: string | null } };

/**
 * The write key a secret names. Only write keys send events: a read key is refused, and so is an
 * admin key, which is secret and does not belong where the public key goes (a page's source): sent
 * here, it is a leak in the making. Server code holding one sends through `/api/v1/cdp/events/track`.
 */
async function writeKeyOf(keys: KeyStore, secret: string | undefined): Promise<ResolvedKey> {
  if (!secret) throw unauthorized('A write key is required: Basic auth username or "writeKey" in the body');
  const key = await keys.resolve(secret);
  if (!key) throw unauthorized('The write key is not valid');
  if (key.kind === 'read') throw new HttpError(403, 'forbidden', 'A read key cannot send events: use a write key');
  if (key.kind === 'admin') {
    throw new HttpError(
      403,
      'forbidden',
      'An admin key is secret and cannot send events here: use a write key, or POST /api/v1/cdp/events/track',
    );
  }
  return key;
}

/**
 * With identity verification on for the key, the events whose userId carries its valid signature
 * (`context.userHash`, the HMAC of the userId the site's backend computed), each checked once here.
 * Every identify and alias naming a userId must be signed: otherwise a visitor could attach themselves
 * to someone else's profile. Without a valid signature such a call is refused: on its own in a batch
 * (`unsigned`), as the request when it is a single call.
 */
function verifySignatures(secret: string, events: EventSummary[], batch: boolean) {
  const signed = new Set<EventSummary>();
  const unsigned = new Map<EventSummary, RefusedEvent>();
  for (const event of events) {
    if (!event.user_id) continue;
    if (verifyUserHash(secret, event.user_id, event.user_hash)) signed.add(event);
    else if (event.call_type === 'identify' || event.call_type === 'alias') {
      const path = batch ? `batch.${event.index}.context.userHash` : 'context.userHash';
      const error = new HttpError(
        403,
        'identity_verification_failed',
        `${path}: a valid signature of the userId is required`,
        [{ path, message: 'missing or wrong HMAC-SHA256 of the userId' }],
      );
      if (!batch) throw error;
      unsigned.set(event, refusedEvent(event.index, { messageId: event.message_id }, error));
    }
  }
  return { signed, unsigned };
}

/**
 * analytics.js (`@segment/analytics-next`) posts to one-letter paths: `/v1/t` for a track, `/v1/b` for
 * a batch when batching is on. Each is the same as its long form.
 */
const SHORT_PATHS: Record<string, CallType | 'batch'> = {
  t: 'track',
  i: 'identify',
  p: 'page',
  s: 'screen',
  g: 'group',
  a: 'alias',
  b: 'batch',
};

/** Where the tracking API lives, for the middleware of its routes and nothing else of the app it joins. */
export const TRACKING_PATHS = ['/v1/*', '/beacon/v1/*'];

/**
 * Segment's HTTP Tracking API, `/v1/track|identify|page|screen|group|alias|batch`, its one-letter
 * forms, and RudderStack's beacon path, `/beacon/v1/batch?writeKey=...`: `navigator.sendBeacon` cannot
 * set headers, so its key comes in the query string (a write key is public: it sits in the page).
 */
export function trackingRoutes(options: TrackingRoutesOptions) {
  const { keys, writer, keyring, trustProxy, onAccepted, rateLimit, rateLimitIp, ipMode, suppressions, onDropped } = {
    trustProxy: 0,
    onAccepted: () => {},
    rateLimit: async () => {},
    rateLimitIp: async () => {},
    ipMode: 'keep' as IpMode,
    suppressions: { suppresses: () => false },
    onDropped: () => {},
    ...options,
  };
  const app = new Hono<Env>();

  /** The write key a secret names, its budget spent by one request. */
  const authorize = async (c: Context<Env>, secret: string | undefined) => {
    const key = await writeKeyOf(keys, secret);
    c.set('key', key);
    await rateLimit(key.id);
    return key;
  };

  // Before the body is touched (hono's bodyLimit below reads a chunked one whole): the caller's
  // address, then a key given in a header, so that neither an abusive address nor a wrong key costs
  // a read, a decode or the site's budget. A key given only in the body waits for the decoding.
  app.on('POST', TRACKING_PATHS, async (c, next) => {
    const ip = requestIp(c, trustProxy);
    c.set('ip', ip);
    await rateLimitIp(ip);
    const secret = keyFromAuthorization(c.req.header('authorization')) ?? beaconKey(c);
    if (secret !== undefined) await authorize(c, secret);
    await next();
  });

  const beaconKey = (c: Context<Env>) => (c.req.path.startsWith('/beacon/') ? c.req.query('writeKey') : undefined);

  const tooLarge = () => {
    throw requestTooLarge(LIMITS.requestBytes);
  };
  const countingLimit = bodyLimit({ maxSize: LIMITS.requestBytes, onError: tooLarge });
  // A request that declares its length is judged by the header alone. hono's bodyLimit reads
  // `c.req.raw.body` first, which makes @hono/node-server build a web Request and stream the body
  // through it instead of reading it straight off the socket: that cost about a tenth of the main
  // thread's CPU. A chunked request, with no length, goes through bodyLimit, which counts as it reads.
  app.on('POST', TRACKING_PATHS, async (c, next) => {
    const length = c.req.header('content-length');
    if (length === undefined || c.req.header('transfer-encoding') !== undefined) return countingLimit(c, next);
    return Number(length) > LIMITS.requestBytes ? tooLarge() : next();
  });

  /**
   * Decodes the body (on the worker), authenticates by the body's `writeKey` unless a header named
   * the key, verifies, and stores. Without a header key, an unreadable body is answered before
   * authentication, as Segment does; invalid events always after it. A batch's events are refused
   * one by one (invalid, too large, or refused by the database): the answer counts the others and
   * lists those, and only when none is left is the request refused.
   */
  async function handle(c: Context<Env>, endpoint: CallType | 'batch') {
    const startedAt = performance.now();
    const userAgent = c.req.header('user-agent');
    const decoded = await sharedRequestDecoder.decode({
      text: await requestBodyText(c.req),
      endpoint,
      receivedAt: new Date(),
      ip: c.get('ip'),
      userAgent: userAgent ? userAgent.slice(0, LIMITS.userAgentChars) : null,
      ipMode,
      keyring,
      defaultPhoneCountry: options.defaultPhoneCountry ?? 'US',
    });
    if ('parseError' in decoded) throw decoded.parseError;
    const key = c.get('key') ?? (await authorize(c, decoded.writeKey));
    if ('error' in decoded) throw decoded.error;
    const isBatch = endpoint === 'batch';
    const { events } = decoded.batch;
    const verified = key.verificationSecret ? verifySignatures(key.verificationSecret, events, isBatch) : undefined;
    const signed = verified?.signed;
    const unsigned = verified?.unsigned ?? new Map<EventSummary, RefusedEvent>();

    const kept = keepEvents(decoded.batch, (event) => !unsigned.has(event) && !suppressions.suppresses(event));
    const suppressed = events.length - unsigned.size - kept.events.length;
    if (suppressed) onDropped(suppressed, 'suppressed');
    // With identity verification, only a signed call may link a userId to this visitor, no call may
    // claim an identified customer by anything but a signed userId (`verified`: no previous userId, no
    // email or phone), and consent at ingestion takes only a signed event's word for its userId (`signed`).
    if (signed) for (const e of kept.events) if (e.link) e.link.verified = true;
    const unsignedLink = (e: EventSummary) => e.link?.kind === 'implicit' && !signed?.has(e);
    const batch = signed
      ? { ...kept, events: kept.events.map((e) => (unsignedLink(e) ? { ...e, link: null } : e)), signed }
      : kept;
    const unstorable = batch.events.length ? (await writer.write(batch)).refused : [];
    let refused = decoded.refused;
    if (unstorable.length || unsigned.size) {
      const more = [...unsigned.values(), ...unstorable.map((u) => notStorable(u, isBatch))];
      refused = [...refused, ...more].sort(byIndex);
    }
    // Suppressed events are counted like stored ones: a sender must not learn who is suppressed.
    const count = events.length - unstorable.length - unsigned.size;
    if (!count && refused.length) throw everyEventRefused(refused, isBatch);
    onAccepted(batch.events.length - unstorable.length, startedAt);
    return c.json(refused.length ? { success: true, count, refused } : { success: true, count });
  }

  for (const type of CALL_TYPES) app.post(`/v1/${type}`, (c) => handle(c, type));
  app.post('/v1/batch', (c) => handle(c, 'batch'));
  for (const [short, type] of Object.entries(SHORT_PATHS)) app.post(`/v1/${short}`, (c) => handle(c, type));
  app.post('/beacon/v1/batch', (c) => handle(c, 'batch'));

  return app;
}
