import { CALL_TYPES, type CallType, LIMITS } from '@tributary/spec';
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
import { byIndex, everyEventRefused, notStorable } from './refused-events';
import { sharedRequestDecoder } from './request-decoder';
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
  suppressions?: { suppresses(event: EventSummary): boolean };
  /** Told how many events a request carried that were not stored, and why. */
  onDropped?: (count: number, reason: 'suppressed') => void;
  /** Told how many events each accepted request stored, for metrics. */
  onAccepted?: (count: number, startedAt: number) => void;
}

type Env = { Variables: { key: ResolvedKey } };

async function authenticate(c: Context<Env>, keys: KeyStore, bodyWriteKey: string | undefined): Promise<ResolvedKey> {
  const secret = keyFromAuthorization(c.req.header('authorization')) ?? bodyWriteKey;
  if (!secret) throw unauthorized('A write key is required: Basic auth username or "writeKey" in the body');
  const key = await keys.resolve(secret);
  if (!key) throw unauthorized('The write key is not valid');
  return key;
}

/** With identity verification on, whether the event's userId carries its valid signature (`context.userHash`). */
const hasValidUserHash = (key: ResolvedKey, event: EventSummary) =>
  !!key.verificationSecret && !!event.user_id && verifyUserHash(key.verificationSecret, event.user_id, event.user_hash);

/**
 * With identity verification on for the key, every identify and alias naming a userId must carry
 * `context.userHash`, the HMAC of the userId the site's backend computed: otherwise a visitor could
 * attach themselves to someone else's profile. A missing or wrong signature refuses the request.
 */
function checkIdentityVerification(key: ResolvedKey, events: EventSummary[], batch: boolean) {
  if (!key.verificationSecret) return;
  events.forEach((event) => {
    if (
      (event.call_type === 'identify' || event.call_type === 'alias') &&
      event.user_id &&
      !hasValidUserHash(key, event)
    ) {
      const path = batch ? `batch.${event.index}.context.userHash` : 'context.userHash';
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

  const tooLarge = () => {
    throw requestTooLarge(LIMITS.requestBytes);
  };
  const countingLimit = bodyLimit({ maxSize: LIMITS.requestBytes, onError: tooLarge });
  // A request that declares its length is judged by the header alone. hono's bodyLimit reads
  // `c.req.raw.body` first, which makes @hono/node-server build a web Request and stream the body
  // through it instead of reading it straight off the socket: that cost about a tenth of the main
  // thread's CPU. A chunked request, with no length, goes through bodyLimit, which counts as it reads.
  app.use('*', async (c, next) => {
    const length = c.req.header('content-length');
    if (length === undefined || c.req.header('transfer-encoding') !== undefined) return countingLimit(c, next);
    return Number(length) > LIMITS.requestBytes ? tooLarge() : next();
  });

  /**
   * Decodes the body (on the worker), then authenticates, rate-limits, verifies, and stores. A batch's
   * events are refused one by one (invalid, too large, or refused by the database): the answer counts
   * the others and lists those, and only when none is left is the request refused.
   */
  async function handle(c: Context<Env>, endpoint: CallType | 'batch') {
    const startedAt = performance.now();
    const userAgent = c.req.header('user-agent');
    const decoded = await sharedRequestDecoder.decode({
      text: await c.req.text(),
      endpoint,
      receivedAt: new Date(),
      ip: requestIp(c, trustProxy),
      userAgent: userAgent ? userAgent.slice(0, LIMITS.userAgentChars) : null,
      ipMode,
      keyring,
    });
    // An unreadable body is answered before authentication, invalid events after it.
    if ('parseError' in decoded) throw decoded.parseError;
    const key = await authenticate(c, keys, decoded.writeKey);
    c.set('key', key);
    await rateLimit(key.id);
    if ('error' in decoded) throw decoded.error;
    const isBatch = endpoint === 'batch';
    const { events } = decoded.batch;
    checkIdentityVerification(key, events, isBatch);

    const kept = keepEvents(decoded.batch, (event) => !suppressions.suppresses(event));
    const suppressed = events.length - kept.events.length;
    if (suppressed) onDropped(suppressed, 'suppressed');
    // With identity verification, only a signed call may link a userId to this visitor.
    const unsignedLink = (e: EventSummary) => e.link?.kind === 'implicit' && !hasValidUserHash(key, e);
    const batch = key.verificationSecret
      ? { ...kept, events: kept.events.map((e) => (unsignedLink(e) ? { ...e, link: null } : e)) }
      : kept;
    const unstorable = batch.events.length ? (await writer.write(batch)).refused : [];
    let refused = decoded.refused;
    if (unstorable.length) refused = [...refused, ...unstorable.map((u) => notStorable(u, isBatch))].sort(byIndex);
    // Suppressed events are counted like stored ones: a sender must not learn who is suppressed.
    const count = events.length - unstorable.length;
    if (!count && refused.length) throw everyEventRefused(refused, isBatch);
    onAccepted(batch.events.length - unstorable.length, startedAt);
    return c.json(refused.length ? { success: true, count, refused } : { success: true, count });
  }

  for (const type of CALL_TYPES) app.post(`/${type}`, (c) => handle(c, type));
  app.post('/batch', (c) => handle(c, 'batch'));

  return app;
}
