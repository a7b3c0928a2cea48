import type { ConsentType } from '@tributary/spec';
import { sql } from 'drizzle-orm';
import { customerConsents, customerIdentities } from '../db/schema';
import { textList, uuidList } from '../db/sql-lists';
import { normalizeIdentity } from '../identity/normalize-identity';
import type { FlushHook } from '../ingest/batch-writer';
import { takeCustomerWriteTurn } from '../ingest/customer-write-turn';
import type { EventSummary, IngestBatch } from '../ingest/event-row';
import { anyConsentChanges, applyConsentChanges, type ConsentChange } from './consents-store';

/** One visitor's latest consent of one type in a flush, and the event that carried it. */
interface Carried {
  event: EventSummary;
  userId: string | undefined;
  anonymousId: string | undefined;
  consentType: ConsentType;
  granted: boolean;
  /** The event's timestamp (ISO-8601). */
  at: string;
  /** The event's place in the flush. */
  order: number;
}

/**
 * Each visitor's latest consent per type in a flush, in the order the events came. Only the latest
 * change per customer and type is recorded (applyConsentChanges), and one visitor (userId and
 * anonymous ID) is one customer: so one change per visitor and type is enough, not one per event.
 */
function latestConsents(batches: readonly IngestBatch[]): Carried[] {
  const visitors = new Map<string, { userId?: string; anonymousId?: string; latest: Map<ConsentType, Carried> }>();
  const carrying: Carried[] = [];
  let order = 0;
  for (const batch of batches) {
    for (const event of batch.events) {
      order++;
      if (!event.consent) continue;
      const raw = `${event.user_id ?? ''}\u0001${event.anonymous_id ?? ''}`;
      let visitor = visitors.get(raw);
      if (!visitor) {
        const userId = normalizeIdentity('EXTERNAL_ID', event.user_id);
        const anonymousId = normalizeIdentity('COOKIE_ID', event.anonymous_id);
        visitor = { userId, anonymousId, latest: new Map() };
        visitors.set(raw, visitor);
      }
      const { userId, anonymousId, latest } = visitor;
      if (!userId && !anonymousId) continue;
      // Summaries' timestamps are toISOString's, years 1000 to 9999: as text they sort as dates do.
      const at = event.timestamp;
      for (const [consentType, granted] of Object.entries(event.consent) as [ConsentType, boolean][]) {
        const seen = latest.get(consentType);
        if (!seen) {
          const carried = { event, userId, anonymousId, consentType, granted, at, order };
          latest.set(consentType, carried);
          carrying.push(carried);
        } else if (at >= seen.at) {
          // Ties go to the later event, as in applyConsentChanges' stable sort.
          seen.event = event;
          seen.granted = granted;
          seen.at = at;
          seen.order = order;
        }
      }
    }
  }
  return carrying.sort((a, b) => a.order - b.order);
}

/**
 * Consent carried by events (`context.consent.categoryPreferences`, as Segment's consent tools and the
 * SDK's consent call send it) lands in the same records as the API's, inside the flush transaction.
 * The customer is found through the event's userId, else its anonymous ID; events of visitors not yet
 * known as customers keep their consent on the event only. A change is written only when it changes
 * whether a consent is in force, so a consent stamped on every event writes history once.
 */
export function consentIngestHook(): FlushHook {
  return async function recordEventConsent(tx, batches) {
    const carrying = latestConsents(batches);
    if (!carrying.length) return;

    const userIds = [...new Set(carrying.flatMap((c) => (c.userId ? [c.userId] : [])))];
    const anonymousIds = [...new Set(carrying.flatMap((c) => (c.anonymousId ? [c.anonymousId] : [])))];
    const owners = await tx
      .select({
        type: customerIdentities.identityType,
        value: customerIdentities.identityValue,
        customerId: customerIdentities.customerId,
      })
      .from(customerIdentities)
      .where(
        sql`(${customerIdentities.identityType} = 'EXTERNAL_ID' and ${customerIdentities.identityValue} in ${textList(userIds)})
          or (${customerIdentities.identityType} = 'COOKIE_ID' and ${customerIdentities.identityValue} in ${textList(anonymousIds)})`,
      )
      // Prepared: one text for any list (sql-lists.ts), so PostgreSQL parses and plans it once per connection.
      .prepare('consent_hook_owners')
      .execute();
    const byUser = new Map(owners.filter((o) => o.type === 'EXTERNAL_ID').map((o) => [o.value, o.customerId]));
    const byAnonymous = new Map(owners.filter((o) => o.type === 'COOKIE_ID').map((o) => [o.value, o.customerId]));

    const changes: ConsentChange[] = [];
    for (const { event, userId, anonymousId, consentType, granted, at } of carrying) {
      const customerId = (userId && byUser.get(userId)) || (anonymousId && byAnonymous.get(anonymousId));
      if (!customerId) continue;
      changes.push({
        customerId,
        consentType,
        granted,
        source: `event:${event.call_type}`,
        ipAddress: event.ip_address,
        expiresAt: null,
        metadata: { messageId: event.message_id, eventTimestamp: event.timestamp },
        actor: 'ingestion',
        at: new Date(at),
      });
    }
    if (!changes.length) return;

    // Consent stamped on every event rarely changes: read without locking, and only when something
    // changes take the customer-write turn and let applyConsentChanges lock, re-read and record.
    const customerIds = [...new Set(changes.map((c) => c.customerId))];
    const current = await tx
      .select({
        customerId: customerConsents.customerId,
        consentType: customerConsents.consentType,
        granted: customerConsents.granted,
        expiresAt: customerConsents.expiresAt,
        updatedAt: customerConsents.updatedAt,
      })
      .from(customerConsents)
      .where(sql`${customerConsents.customerId} in ${uuidList(customerIds)}`)
      .prepare('consent_hook_current')
      .execute();
    if (!anyConsentChanges(current, changes)) return;
    await takeCustomerWriteTurn(tx);
    await applyConsentChanges(tx, changes, { onlyIfChanged: true });
  };
}
