import { z } from 'zod';

/** The product spec's event types. Segment calls map onto them (see `eventTypeFor`). */
export const EVENT_TYPES = [
  'PAGE_VIEW',
  'BUTTON_CLICK',
  'FORM_SUBMIT',
  'QUOTE_REQUEST',
  'QUOTE_VIEW',
  'DOCUMENT_UPLOAD',
  'DOCUMENT_VIEW',
  'MESSAGE_SENT',
  'MESSAGE_READ',
  'PROFILE_UPDATE',
  'LOGIN',
  'LOGOUT',
  'PURCHASE',
  'POLICY_VIEW',
  'CLAIM_SUBMIT',
  'SEARCH',
  'CUSTOM',
] as const;
export const EventType = z.enum(EVENT_TYPES);
export type EventType = z.infer<typeof EventType>;

/**
 * Segment's semantic event names that mean one of our types, so stock libraries map without
 * configuration. A Map: an event is named whatever its sender likes, `constructor` included.
 */
const SEMANTIC_EVENT_NAMES = new Map<string, EventType>([
  ['order completed', 'PURCHASE'],
  ['checkout completed', 'PURCHASE'],
  ['signed in', 'LOGIN'],
  ['signed out', 'LOGOUT'],
  ['products searched', 'SEARCH'],
  ['form submitted', 'FORM_SUBMIT'],
  ['button clicked', 'BUTTON_CLICK'],
]);

/**
 * The spec event type of a Segment call: page and screen are PAGE_VIEW, a track
 * names its type through `eventType` (or a Segment semantic event name), the rest are CUSTOM.
 */
export function eventTypeFor(call: { type: string; event?: string; eventType?: EventType | undefined }): EventType {
  if (call.type === 'page' || call.type === 'screen') return 'PAGE_VIEW';
  if (call.type !== 'track') return 'CUSTOM';
  if (call.eventType) return call.eventType;
  return (call.event && SEMANTIC_EVENT_NAMES.get(call.event.toLowerCase())) || 'CUSTOM';
}
