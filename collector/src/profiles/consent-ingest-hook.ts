import { and, eq, inArray, or } from 'drizzle-orm';
import { customerIdentities } from '../db/schema';
import { normalizeIdentity } from '../identity/normalize-identity';
import type { FlushHook } from '../ingest/batch-writer';
import type { EventRow } from '../ingest/event-row';
import { consentFromCategories, consentPreferencesOf } from './consent-categories';
import { applyConsentChanges, type ConsentChange } from './consents-store';

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
        or(
          userIds.length
            ? and(
                eq(customerIdentities.identityType, 'EXTERNAL_ID'),
                inArray(customerIdentities.identityValue, userIds),
              )
            : undefined,
          anonymousIds.length
            ? and(
                eq(customerIdentities.identityType, 'COOKIE_ID'),
                inArray(customerIdentities.identityValue, anonymousIds),
              )
            : undefined,
        ),
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
    await applyConsentChanges(tx, changes, { onlyIfChanged: true });
  };
}
