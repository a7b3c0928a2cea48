import { randomUUID } from 'node:crypto';
import { eventTypeFor, type SegmentCall } from '@tributary/spec';
import type { Keyring } from '../privacy/encryption';
import { applyIpMode, type IpMode } from '../privacy/ip-mode';
import { sealNestedTraits } from '../privacy/personal-data';
import { carriedIdentifiers } from './carried-identifiers';
import { correctTimestamp } from './clock-skew';
import type { EventRow, LinkOp } from './event-row';
import { parseUserAgent } from './user-agent';

export interface RequestInfo {
  receivedAt: Date;
  /** The caller's address, used when the event does not carry `context.ip`. */
  ip: string | null;
  /** The request's User-Agent, used when the event does not carry `context.userAgent`. */
  userAgent: string | null;
  /** What to keep of IP addresses (default: all). */
  ipMode?: IpMode;
  /** Seals the personal data in the traits events carry (identify/group `traits`, `context.traits`). */
  keyring: Keyring;
  /** Country assumed for phone numbers in traits written without a country code. */
  defaultPhoneCountry?: string;
}

const str = (v: unknown) => (typeof v === 'string' && v ? v : null);

// Fields of the call that have their own columns; anything else the sender added is kept in metadata.
const COLUMN_FIELDS = new Set([
  'type',
  'messageId',
  'userId',
  'anonymousId',
  'timestamp',
  'originalTimestamp',
  'sentAt',
  'context',
  'properties',
  'event',
  'eventType',
  'name',
  'category',
  'writeKey',
  'receivedAt',
]);

function eventNameOf(call: SegmentCall): string {
  switch (call.type) {
    case 'track':
      return call.event;
    case 'page':
      return call.name || 'Page Viewed';
    case 'screen':
      return call.name || 'Screen Viewed';
    default:
      return call.type;
  }
}

/**
 * A date's epoch ms and ISO form, remembered for the last date seen: the events of a batch share
 * their `sentAt` (text) and their `receivedAt` (one Date per request), which then cost one parse.
 */
function lastDateMemo<T>() {
  let last: T | undefined;
  let ms = 0;
  let iso = '';
  return (value: T, toMs: (v: T) => number) => {
    if (value !== last) {
      last = value;
      ms = toMs(value);
      iso = new Date(ms).toISOString();
    }
    return { ms, iso };
  };
}
const sentAtMemo = lastDateMemo<string>();
const receivedAtMemo = lastDateMemo<Date>();

/**
 * A validated Segment call, enriched, as an event row plus the identity work it implies and the
 * identifiers it carries beyond its userId and anonymousId (for the suppression check).
 */
export function normalizeCall(
  call: SegmentCall,
  req: RequestInfo,
): { row: EventRow; link: LinkOp | null; identifiers: string[] | null } {
  // Only traits objects are touched, and only their personal-data keys: the common event costs nothing.
  const context: Record<string, unknown> = sealNestedTraits(req.keyring, { ...call.context });
  const ip = applyIpMode(str(context.ip) ?? req.ip, req.ipMode ?? 'keep');
  const userAgent = str(context.userAgent) ?? req.userAgent;
  if (ip) context.ip = ip;
  else delete context.ip;
  const device = userAgent ? parseUserAgent(userAgent) : null;
  const received = receivedAtMemo(req.receivedAt, (d) => d.getTime());
  const sent = call.sentAt ? sentAtMemo(call.sentAt, Date.parse) : undefined;
  const original = call.originalTimestamp ?? call.timestamp;
  const originalMs = original ? Date.parse(original) : undefined;
  const timestamp = correctTimestamp(received.ms, originalMs, sent?.ms);
  const timestampIso = timestamp === received.ms ? received.iso : new Date(timestamp).toISOString();

  let metadata: Record<string, unknown> | null = null;
  for (const k in call) {
    const v = call[k as keyof SegmentCall];
    if (COLUMN_FIELDS.has(k) || v === undefined) continue;
    metadata ??= {};
    metadata[k] = v;
  }

  const userId = call.userId ?? null;
  const anonymousId = call.anonymousId ?? null;
  const hasProperties = call.type === 'track' || call.type === 'page' || call.type === 'screen';
  const properties = hasProperties ? (call.properties ?? {}) : {};
  const category = call.type === 'page' || call.type === 'screen' ? (call.category ?? null) : null;
  const sessionId = context.sessionId;

  const row: EventRow = {
    message_id: call.messageId ?? randomUUID(),
    customer_id: null,
    anonymous_id: anonymousId,
    user_id: userId,
    session_id: sessionId === undefined || sessionId === null ? null : String(sessionId),
    call_type: call.type,
    event_type: eventTypeFor(call),
    event_name: eventNameOf(call),
    event_category: category,
    properties,
    context,
    timestamp: timestampIso,
    original_timestamp:
      originalMs === undefined ? null : originalMs === timestamp ? timestampIso : new Date(originalMs).toISOString(),
    sent_at: sent ? sent.iso : null,
    received_at: received.iso,
    device_type: device?.deviceType ?? null,
    browser: device?.browser ?? null,
    os: device?.os ?? null,
    ip_address: ip,
    user_agent: userAgent,
    country: null,
    region: null,
    city: null,
    metadata: metadata && sealNestedTraits(req.keyring, metadata),
  };

  let link: LinkOp | null = null;
  if (call.type === 'identify') {
    link = { kind: 'identify', userId, anonymousId, traits: call.traits ?? {}, at: new Date(timestamp) };
  } else if (call.type === 'alias') {
    link = { kind: 'alias', userId, anonymousId, previousId: call.previousId, at: new Date(timestamp) };
  } else if (userId) {
    link = { kind: 'implicit', userId, anonymousId, at: new Date(timestamp) };
  }
  return { row, link, identifiers: carriedIdentifiers(call, req.keyring, req.defaultPhoneCountry) };
}
