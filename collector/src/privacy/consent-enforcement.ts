import { sql } from 'drizzle-orm';
import { queryRows, type Tx } from '../db/client';
import { textList } from '../db/sql-lists';
import type { EventSummary } from '../ingest/event-row';

/** Whether the event itself says analytics consent is denied (`context.consent.categoryPreferences`). */
const deniedByEvent = (event: EventSummary) => event.consent?.ANALYTICS_TRACKING === false;

/**
 * The events not to store because analytics consent is revoked: either the event carries the denial
 * itself, or it was sent by an identifier of a customer whose ANALYTICS_TRACKING consent is revoked.
 * One query per flush, whatever its size. (The consent hook still records a denial the event carries.)
 */
export async function eventsWithoutAnalyticsConsent(
  tx: Tx,
  events: readonly EventSummary[],
): Promise<Set<EventSummary>> {
  const dropped = new Set<EventSummary>();
  const anonymous = new Set<string>();
  const users = new Set<string>();
  for (const e of events) {
    if (deniedByEvent(e)) dropped.add(e);
    if (e.anonymous_id) anonymous.add(e.anonymous_id);
    if (e.user_id) users.add(e.user_id);
  }
  if (!anonymous.size && !users.size) return dropped;
  const anonymousIds = [...anonymous];
  const userIds = [...users];
  // Index probes on (identity_type, identity_value), one per identifier of the flush.
  const revokedOf = (type: 'COOKIE_ID' | 'EXTERNAL_ID', prefix: string, values: string[]) =>
    sql`select ${prefix} || i.identity_value as key
        from customer_identities i
        join customer_consents c on c.customer_id = i.customer_id
         and c.consent_type = 'ANALYTICS_TRACKING' and c.granted = false
        where i.identity_type = ${type}
          and i.identity_value in ${textList(values)}`;
  const revoked = await queryRows<{ key: string }>(
    tx,
    sql`${revokedOf('COOKIE_ID', 'C:', anonymousIds)} union all ${revokedOf('EXTERNAL_ID', 'E:', userIds)}`,
    { prepared: true },
  );
  if (!revoked.length) return dropped;
  const keys = new Set(revoked.map((r) => r.key));
  for (const e of events) {
    if ((e.anonymous_id && keys.has(`C:${e.anonymous_id}`)) || (e.user_id && keys.has(`E:${e.user_id}`)))
      dropped.add(e);
  }
  return dropped;
}
