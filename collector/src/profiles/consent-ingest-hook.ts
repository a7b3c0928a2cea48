import { sql } from 'drizzle-orm';
import { customerConsents, customerIdentities } from '../db/schema';
import { textList, uuidList } from '../db/sql-lists';
import { normalizeIdentity } from '../identity/normalize-identity';
import type { FlushHook } from '../ingest/batch-writer';
import { takeCustomerWriteTurn } from '../ingest/customer-write-turn';
import type { EventRow } from '../ingest/event-row';
import { consentFromCategories, consentPreferencesOf } from './consent-categories';
import { anyConsentChanges, applyConsentChanges, type ConsentChange } from './consents-store';

/**
 * Consent carried by events (`context.consent.categoryPreferences`, as Segment's consent tools and the
 * SDK's consent call send it) lands in the same records as the API's, inside the flush transaction.
 * The customer is found through the event's userId, else its anonymous ID; events of visitors not yet
 * known as customers keep their consent on the event only. A change is written only when it changes
 * whether a consent is in force, so a consent stamped on every event writes history once.
 */
export function consentIngestHook(): FlushHook {
  return async function recordEventConsent(tx, batches) {
    const carrying: { row: EventRow; userId?: string; anonymousId?: string; prefs: Record<string, unknown> }[] = [];
    for (const batch of batches) {
      for (const row of batch.rows) {
        const prefs = consentPreferencesOf(row);
        if (!prefs) continue;
        const userId = normalizeIdentity('EXTERNAL_ID', row.user_id);
        const anonymousId = normalizeIdentity('COOKIE_ID', row.anonymous_id);
        if (userId || anonymousId) carrying.push({ row, userId, anonymousId, prefs });
      }
    }
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
      );
    const byUser = new Map(owners.filter((o) => o.type === 'EXTERNAL_ID').map((o) => [o.value, o.customerId]));
    const byAnonymous = new Map(owners.filter((o) => o.type === 'COOKIE_ID').map((o) => [o.value, o.customerId]));

    const changes: ConsentChange[] = [];
    for (const { row, userId, anonymousId, prefs } of carrying) {
      const customerId = (userId && byUser.get(userId)) || (anonymousId && byAnonymous.get(anonymousId));
      if (!customerId) continue;
      for (const [consentType, granted] of consentFromCategories(prefs)) {
        changes.push({
          customerId,
          consentType,
          granted,
          source: `event:${row.call_type}`,
          ipAddress: row.ip_address,
          expiresAt: null,
          metadata: { messageId: row.message_id, eventTimestamp: row.timestamp },
          actor: 'ingestion',
          at: new Date(row.timestamp),
        });
      }
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
      .where(sql`${customerConsents.customerId} in ${uuidList(customerIds)}`);
    if (!anyConsentChanges(current, changes)) return;
    await takeCustomerWriteTurn(tx);
    await applyConsentChanges(tx, changes, { onlyIfChanged: true });
  };
}
