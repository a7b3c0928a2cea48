import { mergeDeep } from './merge';
import { uuid } from './uuid';
import type { CallOptions, CallType, EventContext, WireEvent } from './wire';

/** The fields of a call besides identity, time and context: `event` and `properties` for a track ... */
export type CallFields = {
  [K in 'event' | 'name' | 'category' | 'properties' | 'traits' | 'groupId' | 'previousId']?: WireEvent[K] | undefined;
};

/** Who the call is about; at least one of the two is needed. */
export interface CallIdentity {
  anonymousId?: string | undefined;
  userId?: string | undefined;
}

/**
 * A Segment-spec event: a fresh `messageId`, the time, the identity and the context, with the
 * call's options (event type, timestamp, extra context, overriding IDs) applied. `sentAt` is left
 * for the moment the batch leaves. Pure: no clock or storage beyond what is passed.
 *
 * @example
 * buildEvent('track', { event: 'Signed Up', properties: { plan: 'pro' } }, { anonymousId: 'a1' }, {}, { eventType: 'CUSTOM' })
 */
export function buildEvent(
  type: CallType,
  fields: CallFields,
  identity: CallIdentity,
  context: EventContext,
  options: CallOptions = {},
  now: Date = new Date(),
): WireEvent {
  const event: WireEvent = {
    type,
    messageId: options.messageId ?? uuid(),
    timestamp: options.timestamp ? new Date(options.timestamp).toISOString() : now.toISOString(),
    context: mergeDeep(context, options.context),
  };
  const anonymousId = options.anonymousId ?? identity.anonymousId;
  const userId = options.userId ?? identity.userId;
  if (anonymousId) event.anonymousId = anonymousId;
  if (userId) event.userId = userId;
  for (const k in fields) {
    const v = fields[k as keyof CallFields];
    if (v !== undefined && v !== null) (event as unknown as Record<string, unknown>)[k] = v;
  }
  if (type === 'track' && options.eventType) event.eventType = options.eventType;
  if (options.integrations) event.integrations = options.integrations;
  return event;
}
