import type { ConsentType, EventType } from '@tributary/spec';

/** One row of `customer_events` as the batch writer inserts it (dates as ISO strings, for json_to_recordset). */
export interface EventRow {
  message_id: string;
  customer_id: string | null;
  anonymous_id: string | null;
  user_id: string | null;
  session_id: string | null;
  call_type: string;
  event_type: EventType;
  event_name: string;
  event_category: string | null;
  properties: Record<string, unknown>;
  context: Record<string, unknown>;
  timestamp: string;
  original_timestamp: string | null;
  sent_at: string | null;
  received_at: string;
  device_type: string | null;
  browser: string | null;
  os: string | null;
  ip_address: string | null;
  user_agent: string | null;
  country: string | null;
  region: string | null;
  city: string | null;
  metadata: Record<string, unknown> | null;
}

/** Identity work an event asks for; applied in the same transaction as the event rows. */
export interface LinkOp {
  kind: 'identify' | 'alias' | 'implicit';
  userId: string | null;
  anonymousId: string | null;
  previousId?: string;
  traits?: Record<string, unknown>;
  at: Date;
  /**
   * Sent with a key that verifies identities: only a signed userId may claim an identified
   * customer, so this call links no previous userId and joins no identified customer by email or phone.
   */
  verified?: true;
}

/** Consent by type, as an event carries it. */
export type EventConsent = Readonly<Partial<Record<ConsentType, boolean>>>;

/**
 * What a flush needs of one event besides its stored text: whom it names, the consent it carries,
 * what consent records cite, and the identity work it asks for. Small, so it is cheap to hand from
 * the decode worker to the main thread and to keep until the flush commits.
 */
export interface EventSummary {
  /** The event's position in its request (`batch.<index>`), to name it when it is refused. */
  index: number;
  message_id: string;
  customer_id: string | null;
  anonymous_id: string | null;
  user_id: string | null;
  call_type: string;
  timestamp: string;
  ip_address: string | null;
  /** `context.userHash`, the signature identity verification checks; whatever the sender put there. */
  user_hash: unknown;
  /** The consent the event carries (`context.consent.categoryPreferences`) by consent type; null when none. */
  consent: EventConsent | null;
  link: LinkOp | null;
  /**
   * The identifiers the event carries besides its userId and anonymousId (emails and phones in its
   * traits, an alias's previousId) by blind index, `TYPE:hash`; null when none. Computed while
   * decoding, so that the suppression check on the main thread only compares hashes.
   */
  identifiers: readonly string[] | null;
}

/** Events on their way to `customer_events`, as one request hands them to the batch writer. */
export interface IngestBatch {
  events: EventSummary[];
  /** The events as lines of COPY text in UTF-8, in order: one buffer, which crosses threads without a copy. */
  copy: Uint8Array<ArrayBuffer>;
  /** Where each event's line starts in `copy`, then where the last ends: event i is `copy[lineStarts[i], lineStarts[i + 1])`. */
  lineStarts: Uint32Array<ArrayBuffer>;
  /**
   * Set when the batch came with a write key that has identity verification on: its events whose
   * userId carries its valid signature (`context.userHash`). The other events' userIds are anyone's
   * claim. Unset, no userId was checked: the key does not verify them, or the batch came another way.
   */
  signed?: ReadonlySet<EventSummary>;
}

export const EVENT_COLUMNS = [
  ['message_id', 'text'],
  ['customer_id', 'uuid'],
  ['anonymous_id', 'text'],
  ['user_id', 'text'],
  ['session_id', 'text'],
  ['call_type', 'text'],
  ['event_type', 'event_type'],
  ['event_name', 'text'],
  ['event_category', 'text'],
  ['properties', 'jsonb'],
  ['context', 'jsonb'],
  ['timestamp', 'timestamptz'],
  ['original_timestamp', 'timestamptz'],
  ['sent_at', 'timestamptz'],
  ['received_at', 'timestamptz'],
  ['device_type', 'text'],
  ['browser', 'text'],
  ['os', 'text'],
  ['ip_address', 'text'],
  ['user_agent', 'text'],
  ['country', 'text'],
  ['region', 'text'],
  ['city', 'text'],
  ['metadata', 'jsonb'],
] as const satisfies readonly (readonly [keyof EventRow, string])[];

// COPY's text format: backslash escapes for the characters that delimit rows and columns.
const COPY_ESCAPES: Record<string, string> = { '\\': '\\\\', '\n': '\\n', '\r': '\\r', '\t': '\\t' };
const NEEDS_ESCAPE = /[\\\n\r\t]/;
const copyText = (v: string | null | undefined): string => {
  if (v === null || v === undefined) return '\\N';
  return NEEDS_ESCAPE.test(v) ? v.replace(/[\\\n\r\t]/g, (ch) => COPY_ESCAPES[ch] as string) : v;
};

/**
 * One row as a line of COPY's text format (columns in `EVENT_COLUMNS` order), and the UTF-8 bytes of
 * its JSON columns (properties, context, metadata): how large the event is as stored.
 */
export function encodeRow(row: EventRow): { line: string; jsonBytes: number } {
  let jsonBytes = 0;
  const columns = EVENT_COLUMNS.map(([c]) => {
    const v = row[c];
    if (v === null || typeof v !== 'object') return copyText(v);
    // Lone surrogates became U+FFFD and U+0000 was refused where the body was read (bounded-json).
    const json = JSON.stringify(v);
    jsonBytes += Buffer.byteLength(json);
    // JSON text holds no raw newline or tab (JSON.stringify escapes them): only its backslashes need doubling.
    return json.replaceAll('\\', '\\\\');
  });
  return { line: `${columns.join('\t')}\n`, jsonBytes };
}

/** One row as a line of COPY's text format. */
export const toCopyLine = (row: EventRow): string => encodeRow(row).line;
