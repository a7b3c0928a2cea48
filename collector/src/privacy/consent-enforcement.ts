import { sql } from 'drizzle-orm';
import { queryRows, type Tx } from '../db/client';
import { textList } from '../db/sql-lists';
import type { EventRow } from '../ingest/event-row';
import { consentFromCategories, consentPreferencesOf } from '../profiles/consent-categories';

/** Whether the event itself says analytics consent is denied (`context.consent.categoryPreferences`). */
function deniedByEvent(row: EventRow): boolean {
  const preferences = consentPreferencesOf(row);
  return !!preferences && consentFromCategories(preferences).get('ANALYTICS_TRACKING') === false;
}

/**
 * The events not to store because analytics consent is revoked: either the event carries the denial
 * itself, or it was sent by an identifier of a customer whose ANALYTICS_TRACKING consent is revoked.
 * One query per flush, whatever its size. (The consent hook still records a denial the event carries.)
 */
export async function rowsWithoutAnalyticsConsent(tx: Tx, rows: readonly EventRow[]): Promise<Set<EventRow>> {
  const dropped = new Set(rows.filter(deniedByEvent));
  const anonymousIds = [...new Set(rows.flatMap((r) => (r.anonymous_id ? [r.anonymous_id] : [])))];
  const userIds = [...new Set(rows.flatMap((r) => (r.user_id ? [r.user_id] : [])))];
  if (!anonymousIds.length && !userIds.length) return dropped;
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
  );
  if (!revoked.length) return dropped;
  const keys = new Set(revoked.map((r) => r.key));
  for (const r of rows) {
    if ((r.anonymous_id && keys.has(`C:${r.anonymous_id}`)) || (r.user_id && keys.has(`E:${r.user_id}`)))
      dropped.add(r);
  }
  return dropped;
}
