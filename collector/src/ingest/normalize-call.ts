import { randomUUID } from 'node:crypto';
import { eventTypeFor, type SegmentCall } from '@tributary/spec';
import { isPlainObject } from '../is-plain-object';
import { type Keyring, sealJson } from '../privacy/encryption';
import { applyIpMode, type IpMode, keepsDevice, keepsRawUserAgent } from '../privacy/ip-mode';
import { sealPersonalData } from '../privacy/personal-data';
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
  /** What to keep of IP addresses and user agents (default: all). */
  ipMode?: IpMode;
  /** Seals the personal data events carry (properties, context, metadata; its list of personal keys too). */
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
 * An event's metadata (the call's other fields: identify and group `traits`, alias `previousId` ...)
 * as stored: personal data sealed, and the previous ID, an identifier of the person, sealed whole.
 */
function sealMetadataOf(keyring: Keyring, metadata: Record<string, unknown>) {
  const sealed = sealPersonalData(keyring, metadata);
  if (typeof sealed.previousId === 'string') sealed.previousId = sealJson(keyring, sealed.previousId);
  return sealed;
}

/**
 * An identify's traits: its own, or, when it has none, those in its `context.traits`, where
 * RudderStack's libraries put them. Both present, the call's own win.
 */
function identifyTraits(call: SegmentCall & { type: 'identify' }): Record<string, unknown> {
  if (call.traits) return call.traits;
  const contextTraits = call.context?.traits;
  return isPlainObject(contextTraits) ? contextTraits : {};
}

/**
 * A validated Segment call, enriched, as an event row plus the identity work it implies and the
 * identifiers it carries beyond its userId and anonymousId (for the suppression check).
 */
export function normalizeCall(
  call: SegmentCall,
  req: RequestInfo,
): { row: EventRow; link: LinkOp | null; identifiers: string[] | null } {
  const ipMode = req.ipMode ?? 'keep';
  const context: Record<string, unknown> = { ...call.context };
  const ip = applyIpMode(str(context.ip) ?? req.ip, ipMode);
  if (ip) context.ip = ip;
  else delete context.ip;
  const sentUserAgent = str(context.userAgent) ?? req.userAgent;
  const device = sentUserAgent && keepsDevice(ipMode) ? parseUserAgent(sentUserAgent) : null;
  const userAgent = keepsRawUserAgent(ipMode) ? sentUserAgent : null;
  if (!userAgent) {
    if ('userAgent' in context) delete context.userAgent;
    if ('userAgentData' in context) delete context.userAgentData;
  }
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

  // RudderStack's browser libraries send `"userId": ""` for a visitor not yet identified: no userId.
  const userId = call.userId || null;
  const anonymousId = call.anonymousId || null;
  const hasProperties = call.type === 'track' || call.type === 'page' || call.type === 'screen';
  const properties = hasProperties && call.properties ? sealPersonalData(req.keyring, call.properties) : {};
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
    // Only personal-data keys are sealed, copying what holds one: the common event costs a key scan.
    context: sealPersonalData(req.keyring, context),
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
    metadata: metadata && sealMetadataOf(req.keyring, metadata),
  };

  let link: LinkOp | null = null;
  if (call.type === 'identify') {
    link = { kind: 'identify', userId, anonymousId, traits: identifyTraits(call), at: new Date(timestamp) };
  } else if (call.type === 'alias') {
    link = { kind: 'alias', userId, anonymousId, previousId: call.previousId, at: new Date(timestamp) };
  } else if (userId) {
    link = { kind: 'implicit', userId, anonymousId, at: new Date(timestamp) };
  }
  return { row, link, identifiers: carriedIdentifiers(call, req.keyring, req.defaultPhoneCountry) };
}
