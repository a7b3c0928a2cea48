import type { EVENT_TYPES } from '@tributary/spec';

/** The spec's event types (QUOTE_REQUEST, PURCHASE ...); a track may name the one it stands for. */
export type EventType = (typeof EVENT_TYPES)[number];

/** JSON-like bag of properties or traits. */
export type Properties = Record<string, unknown>;

/** Consent categories and whether each is granted, e.g. `{ analytics: true, marketing: false }`. */
export type ConsentPreferences = Record<string, boolean>;

/** `context` as the SDK sends it; what the caller adds is merged in. */
export interface EventContext {
  library?: { name: string; version: string };
  sessionId?: string | number;
  consent?: { categoryPreferences: ConsentPreferences };
  [key: string]: unknown;
}

export type CallType = 'track' | 'identify' | 'page' | 'screen' | 'group' | 'alias';

/**
 * One Segment-spec call as it travels to `POST /v1/batch`. The test `wire-types.test.ts` checks
 * it against the collector's schema types in `@tributary/spec` (a type alias, not an interface, so it is
 * assignable to the schema's open index signature).
 */
export type WireEvent = {
  type: CallType;
  messageId: string;
  anonymousId?: string;
  userId?: string;
  timestamp: string;
  /** Set when the batch leaves, so the collector can correct the device's clock. */
  sentAt?: string;
  context: EventContext;
  event?: string;
  eventType?: EventType;
  name?: string;
  category?: string;
  properties?: Properties;
  traits?: Properties;
  groupId?: string;
  previousId?: string;
  integrations?: Record<string, unknown>;
};

/** What every call may carry besides its own fields. */
export interface CallOptions {
  /** The spec event type this call stands for (tracks only), e.g. `'PURCHASE'`. */
  eventType?: EventType;
  /** When it happened; defaults to now. */
  timestamp?: Date | string;
  /** Merged into the event's context (deeply), e.g. `{ campaign: { name: 'spring' } }`. */
  context?: Record<string, unknown>;
  /** Overrides the remembered IDs for this call only. */
  anonymousId?: string;
  userId?: string;
  /** Your own ID for the event; a resend with the same ID is stored once. */
  messageId?: string;
  integrations?: Record<string, unknown>;
}
