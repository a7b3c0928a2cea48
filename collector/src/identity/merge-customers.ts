import { and, eq, inArray, or, sql } from 'drizzle-orm';
import type { Tx } from '../db/client';
import {
  customerConsentHistory,
  customerConsents,
  customerEngagementScores,
  customerIdentities,
  customerJourneySteps,
  customerLifetimeValues,
  customerMerges,
  customerProfiles,
  customerSegmentMemberships,
  customers,
  customerTraits,
} from '../db/schema';

export type MergeStrategy = 'merge' | 'replace';

/**
 * Moves everything of `sourceId` into `targetId` and leaves the source as a pointer to the target.
 * "merge" keeps the target's value where both have one; "replace" lets the source's win.
 * Events are not touched: they follow the identities, and queries include merged-away customer IDs.
 * Must run inside a transaction; the caller checks that both customers exist and are not merged away.
 */
export async function mergeCustomers(
  tx: Tx,
  sourceId: string,
  targetId: string,
  strategy: MergeStrategy,
  actor: string,
) {
  const sourceWins = strategy === 'replace';

  // One primary identity per type: where both have one, the strategy's loser gives its mark up.
  const [winner, loser] = sourceWins ? [sourceId, targetId] : [targetId, sourceId];
  await tx.execute(sql`
    update customer_identities set is_primary = false, updated_at = now()
    where customer_id = ${loser} and is_primary and identity_type in (
      select identity_type from customer_identities where customer_id = ${winner} and is_primary)`);

  await tx
    .update(customerIdentities)
    .set({ customerId: targetId, updatedAt: new Date() })
    .where(eq(customerIdentities.customerId, sourceId));

  // Traits and consents: unique per customer and key, so copy with the strategy's conflict rule, then drop the source's.
  await tx.execute(sql`
    insert into customer_traits (customer_id, trait_key, trait_value, trait_type, source, computed_at, expires_at, metadata, created_at, updated_at)
    select ${targetId}, trait_key, trait_value, trait_type, source, computed_at, expires_at, metadata, created_at, updated_at
    from customer_traits where customer_id = ${sourceId}
    on conflict (customer_id, trait_key) do ${
      sourceWins
        ? sql`update set trait_value = excluded.trait_value, trait_type = excluded.trait_type, source = excluded.source,
            computed_at = excluded.computed_at, expires_at = excluded.expires_at, metadata = excluded.metadata, updated_at = now()`
        : sql`nothing`
    }`);
  await tx.delete(customerTraits).where(eq(customerTraits.customerId, sourceId));

  await tx.execute(sql`
    insert into customer_consents (customer_id, consent_type, granted, source, ip_address, granted_at, revoked_at, expires_at, metadata, created_at, updated_at)
    select ${targetId}, consent_type, granted, source, ip_address, granted_at, revoked_at, expires_at, metadata, created_at, updated_at
    from customer_consents where customer_id = ${sourceId}
    on conflict (customer_id, consent_type) do ${
      sourceWins
        ? sql`update set granted = excluded.granted, source = excluded.source, ip_address = excluded.ip_address,
            granted_at = excluded.granted_at, revoked_at = excluded.revoked_at, expires_at = excluded.expires_at,
            metadata = excluded.metadata, updated_at = now()`
        : sql`nothing`
    }`);
  await tx.delete(customerConsents).where(eq(customerConsents.customerId, sourceId));
  await tx
    .update(customerConsentHistory)
    .set({ customerId: targetId })
    .where(eq(customerConsentHistory.customerId, sourceId));

  await tx.execute(sql`
    insert into customer_segment_memberships (segment_id, customer_id, source, metadata, added_at)
    select segment_id, ${targetId}, source, metadata, added_at from customer_segment_memberships where customer_id = ${sourceId}
    on conflict (segment_id, customer_id) do nothing`);
  await tx.delete(customerSegmentMemberships).where(eq(customerSegmentMemberships.customerId, sourceId));

  await tx
    .update(customerJourneySteps)
    .set({ customerId: targetId })
    .where(eq(customerJourneySteps.customerId, sourceId));

  // Scores and lifetime value describe the old history; the target's are recomputed from the whole.
  await tx.delete(customerEngagementScores).where(inArray(customerEngagementScores.customerId, [sourceId, targetId]));
  await tx.delete(customerLifetimeValues).where(inArray(customerLifetimeValues.customerId, [sourceId, targetId]));

  const pick = (col: string) =>
    sourceWins ? sql.raw(`coalesce(s.${col}, t.${col})`) : sql.raw(`coalesce(t.${col}, s.${col})`);
  await tx.execute(sql`
    update customers t set
      email = ${pick('email')}, phone_number = ${pick('phone_number')},
      first_name = ${pick('first_name')}, last_name = ${pick('last_name')},
      is_verified = t.is_verified or s.is_verified,
      last_login_at = greatest(t.last_login_at, s.last_login_at),
      last_seen_at = greatest(t.last_seen_at, s.last_seen_at),
      created_at = least(t.created_at, s.created_at),
      updated_at = now()
    from customers s where t.id = ${targetId} and s.id = ${sourceId}`);

  await tx.execute(sql`
    insert into customer_profiles (customer_id, date_of_birth, preferred_contact, address, emergency_contact, preferences)
    select ${targetId}, date_of_birth, preferred_contact, address, emergency_contact, preferences
    from customer_profiles where customer_id = ${sourceId}
    on conflict (customer_id) do update set
      date_of_birth = ${pick2('date_of_birth', sourceWins)}, preferred_contact = ${pick2('preferred_contact', sourceWins)},
      address = ${pick2('address', sourceWins)}, emergency_contact = ${pick2('emergency_contact', sourceWins)},
      preferences = ${pick2('preferences', sourceWins)}, updated_at = now()`);
  await tx.delete(customerProfiles).where(eq(customerProfiles.customerId, sourceId));

  // The source and everything that pointed at it now point at the target: one hop, always.
  await tx
    .update(customers)
    .set({ mergedIntoId: targetId, mergedAt: new Date(), updatedAt: new Date() })
    .where(or(eq(customers.id, sourceId), eq(customers.mergedIntoId, sourceId)));

  const [record] = await tx
    .insert(customerMerges)
    .values({ sourceCustomerId: sourceId, targetCustomerId: targetId, strategy, actor })
    .returning();
  if (!record) throw new Error('the merge was not recorded');
  return record;
}

// In `on conflict do update`, `excluded` is the source's row and the table's row is the target's.
const pick2 = (col: string, sourceWins: boolean) =>
  sourceWins
    ? sql.raw(`coalesce(excluded.${col}, customer_profiles.${col})`)
    : sql.raw(`coalesce(customer_profiles.${col}, excluded.${col})`);

/** Whether a customer has a userId (an EXTERNAL_ID), which makes it off-limits for automatic merging. */
export async function identifiedCustomers(tx: Tx, ids: string[]): Promise<Set<string>> {
  if (!ids.length) return new Set();
  const rows = await tx
    .selectDistinct({ id: customerIdentities.customerId })
    .from(customerIdentities)
    .where(and(inArray(customerIdentities.customerId, ids), eq(customerIdentities.identityType, 'EXTERNAL_ID')));
  return new Set(rows.map((r) => r.id));
}
