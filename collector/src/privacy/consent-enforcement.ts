import type { EventSummary } from '../ingest/event-row';
import type { VisitorConsents } from '../profiles/visitor-consents';

/** Whether the event itself says analytics consent is denied (`context.consent.categoryPreferences`). */
const deniedByEvent = (event: EventSummary) => event.consent?.ANALYTICS_TRACKING === false;

/** Whether the customer has revoked ANALYTICS_TRACKING. */
const revokedAnalytics = (consents: VisitorConsents, customerId: string | undefined) =>
  !!customerId && consents.consentOf(customerId, 'ANALYTICS_TRACKING')?.granted === false;

/**
 * The events not to store because analytics consent is revoked: either the event carries the denial
 * itself, or it was sent by an identifier (userId or anonymous ID, normalized) of a customer whose
 * ANALYTICS_TRACKING consent is revoked. (The consent hook still records a denial the event carries.)
 */
export function eventsWithoutAnalyticsConsent(
  events: readonly EventSummary[],
  visitorOf: (event: EventSummary) => { userId: string | undefined; anonymousId: string | undefined },
  consents: VisitorConsents,
): Set<EventSummary> {
  const dropped = new Set<EventSummary>();
  for (const e of events) {
    const { userId, anonymousId } = visitorOf(e);
    if (
      deniedByEvent(e) ||
      revokedAnalytics(consents, consents.ownerOf('COOKIE_ID', anonymousId)) ||
      revokedAnalytics(consents, consents.ownerOf('EXTERNAL_ID', userId))
    )
      dropped.add(e);
  }
  return dropped;
}
