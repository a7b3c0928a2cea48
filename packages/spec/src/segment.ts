import { z } from 'zod';
import { isoDate } from './dates';
import { EventType } from './event-types';
import { BooleanRecord, JsonObject } from './json';

/** The size limits Segment's HTTP Tracking API documents, in bytes and counts. */
export const LIMITS = {
  eventBytes: 32 * 1024,
  requestBytes: 500 * 1024,
  batchEvents: 2500,
  /** A longer user agent (header or `context.userAgent`) is cut to this many characters. */
  userAgentChars: 512,
} as const;

/**
 * A user agent, cut to `LIMITS.userAgentChars`: real ones are a few hundred characters, and a longer
 * one is neither parsed nor stored whole (ua-parser-js itself reads only the first 500). A cut through
 * a surrogate pair leaves U+FFFD, as any lone surrogate becomes: the database refuses half a pair.
 */
export const UserAgent = z
  .string()
  .transform((s) => (s.length > LIMITS.userAgentChars ? s.slice(0, LIMITS.userAgentChars).toWellFormed() : s));

/** Segment libraries send IDs as strings, some send numbers; both are kept as strings. */
const identifier = z
  .union([z.string(), z.number().finite()])
  .transform((v) => String(v))
  .pipe(z.string().max(512, 'must be at most 512 characters'));

export const ConsentPreferences = z.looseObject({
  categoryPreferences: BooleanRecord.optional(),
});

/** `context` as Segment documents it; unknown keys are kept as sent. */
export const Context = z.looseObject({
  ip: z.string().max(64).optional(),
  userAgent: UserAgent.optional(),
  locale: z.string().max(64).optional(),
  timezone: z.string().max(128).optional(),
  sessionId: z.union([z.string().max(256), z.number()]).optional(),
  page: JsonObject.optional(),
  campaign: JsonObject.optional(),
  library: z.looseObject({ name: z.string().optional(), version: z.string().optional() }).optional(),
  traits: JsonObject.optional(),
  consent: ConsentPreferences.optional(),
});
export type Context = z.infer<typeof Context>;

const common = {
  messageId: z.string().min(1).max(256).optional(),
  userId: identifier.optional().nullable(),
  anonymousId: identifier.optional().nullable(),
  timestamp: isoDate.optional(),
  originalTimestamp: isoDate.optional(),
  sentAt: isoDate.optional(),
  context: Context.optional(),
  integrations: JsonObject.optional(),
  writeKey: z.string().optional(),
};

export const TrackCall = z.looseObject({
  ...common,
  type: z.literal('track'),
  event: z.string().min(1, 'is required for track').max(512),
  /** Tributary extension: the spec event type this track stands for (QUOTE_REQUEST, PURCHASE ...). */
  eventType: EventType.optional(),
  properties: JsonObject.optional(),
});
export const IdentifyCall = z.looseObject({ ...common, type: z.literal('identify'), traits: JsonObject.optional() });
export const PageCall = z.looseObject({
  ...common,
  type: z.literal('page'),
  name: z.string().max(512).optional().nullable(),
  category: z.string().max(512).optional().nullable(),
  properties: JsonObject.optional(),
});
export const ScreenCall = z.looseObject({
  ...common,
  type: z.literal('screen'),
  name: z.string().max(512).optional().nullable(),
  category: z.string().max(512).optional().nullable(),
  properties: JsonObject.optional(),
});
export const GroupCall = z.looseObject({
  ...common,
  type: z.literal('group'),
  groupId: identifier.pipe(z.string().min(1, 'is required for group')),
  traits: JsonObject.optional(),
});
export const AliasCall = z.looseObject({
  ...common,
  type: z.literal('alias'),
  previousId: identifier.pipe(z.string().min(1, 'is required for alias')),
  userId: identifier.pipe(z.string().min(1, 'is required for alias')),
});

const withIdentity = <T extends { userId?: string | null | undefined; anonymousId?: string | null | undefined }>(
  call: T,
  ctx: z.RefinementCtx,
) => {
  if (!call.userId && !call.anonymousId) {
    ctx.addIssue({ code: 'custom', path: ['userId'], message: 'userId or anonymousId is required' });
  }
};

/** One Segment call of any type, as it appears inside a batch. The type is case-insensitive, as RudderStack sends it. */
export const SegmentCall = z.preprocess(
  (v) => {
    const type = v && typeof v === 'object' ? (v as { type?: unknown }).type : undefined;
    if (typeof type !== 'string') return v;
    const lower = type.toLowerCase();
    // Copied only when the type changes: validation copies the call anyway.
    return lower === type ? v : { ...(v as object), type: lower };
  },
  z
    .discriminatedUnion('type', [TrackCall, IdentifyCall, PageCall, ScreenCall, GroupCall, AliasCall])
    .superRefine(withIdentity),
);
export type SegmentCall = z.output<typeof SegmentCall>;
export type SegmentCallInput = z.input<
  typeof TrackCall | typeof IdentifyCall | typeof PageCall | typeof ScreenCall | typeof GroupCall | typeof AliasCall
>;
export type CallType = SegmentCall['type'];
export const CALL_TYPES = [
  'track',
  'identify',
  'page',
  'screen',
  'group',
  'alias',
] as const satisfies readonly CallType[];

/**
 * An event the collector did not store, as the 200 of `/v1/batch` lists it: invalid, over a limit,
 * or refused by the database. The others of its batch are stored.
 */
export const RefusedEvent = z.object({
  /** Its position in `batch`. */
  index: z.number().int(),
  messageId: z.string().optional(),
  code: z.string(),
  /** Names the event and the field: `batch.3.event: is required for track`. */
  message: z.string(),
  issues: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
});
export type RefusedEvent = z.infer<typeof RefusedEvent>;

/**
 * What `/v1/*` answers once the events are committed. `count` is the number of events accepted: the
 * request's events but those in `refused` (present only when some were). Events left out for
 * suppression or consent are counted as accepted: a sender cannot tell them apart.
 */
export const TrackingAnswer = z.object({
  success: z.literal(true),
  count: z.number().int(),
  refused: z.array(RefusedEvent).optional(),
});

/** `POST /v1/batch`: the envelope. Items are validated one by one so an error can name its index. */
export const BatchEnvelope = z.looseObject({
  batch: z.array(z.unknown()).max(LIMITS.batchEvents, `must hold at most ${LIMITS.batchEvents} events`),
  context: Context.optional(),
  integrations: JsonObject.optional(),
  sentAt: isoDate.optional(),
  writeKey: z.string().optional(),
});
export type BatchEnvelope = z.infer<typeof BatchEnvelope>;
