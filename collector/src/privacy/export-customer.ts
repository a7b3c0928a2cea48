import { asc, eq, inArray, or } from 'drizzle-orm';
import type { Db } from '../db/client';
import {
  customerConsentHistory,
  customerConsents,
  customerEngagementScores,
  customerEvents,
  customerIdentities,
  customerJourneySteps,
  customerLifetimeValues,
  customerMerges,
  customerProfiles,
  customerSegmentMemberships,
  customerSegments,
  customers,
  customerTraits,
} from '../db/schema';
import { eventsOfCustomer } from '../events/customer-events';
import { toEventResponse } from '../events/event-response';
import { toIdentityResponse } from '../identity/identity-response';
import { toConsentHistoryResponse } from '../profiles/consent-response';
import { requireCustomer } from '../profiles/require-customer';
import { toTraitResponse } from '../profiles/trait-response';
import type { Keyring } from './encryption';
import { openCustomer, openMetadata, openProfile } from './personal-data';

/**
 * Everything held about a customer, as JSON: the right of access and of portability (GDPR art. 15
 * and 20). Includes the customers merged into it. The queries run together, not one after another.
 * Personal data sealed at rest is opened: the export is for the person it is about.
 */
export async function exportCustomer(db: Db, keyring: Keyring, id: string) {
  const customer = await requireCustomer(db, id);
  const ids = (
    await db
      .select({ id: customers.id })
      .from(customers)
      .where(or(eq(customers.id, customer.id), eq(customers.mergedIntoId, customer.id)))
  ).map((r) => r.id);
  const [profile, identities, traits, consents, consentHistory, segments, scores, ltv, journey, merges, events] =
    await Promise.all([
      db.select().from(customerProfiles).where(eq(customerProfiles.customerId, customer.id)),
      db.select().from(customerIdentities).where(eq(customerIdentities.customerId, customer.id)),
      db.select().from(customerTraits).where(eq(customerTraits.customerId, customer.id)),
      db.select().from(customerConsents).where(eq(customerConsents.customerId, customer.id)),
      db
        .select()
        .from(customerConsentHistory)
        .where(eq(customerConsentHistory.customerId, customer.id))
        .orderBy(asc(customerConsentHistory.createdAt)),
      db
        .select({ id: customerSegments.id, name: customerSegments.name, addedAt: customerSegmentMemberships.addedAt })
        .from(customerSegmentMemberships)
        .innerJoin(customerSegments, eq(customerSegments.id, customerSegmentMemberships.segmentId))
        .where(eq(customerSegmentMemberships.customerId, customer.id)),
      db.select().from(customerEngagementScores).where(eq(customerEngagementScores.customerId, customer.id)),
      db.select().from(customerLifetimeValues).where(eq(customerLifetimeValues.customerId, customer.id)),
      db.select().from(customerJourneySteps).where(eq(customerJourneySteps.customerId, customer.id)),
      db
        .select()
        .from(customerMerges)
        .where(or(inArray(customerMerges.sourceCustomerId, ids), inArray(customerMerges.targetCustomerId, ids))),
      db
        .select()
        .from(customerEvents)
        .where(eventsOfCustomer(customer.id))
        .orderBy(asc(customerEvents.timestamp), asc(customerEvents.id)),
    ]);
  const { mergedFrom: _mergedFrom, ...customerRow } = customer;
  return {
    exportedAt: new Date().toISOString(),
    customer: openCustomer(keyring, customerRow),
    mergedCustomerIds: ids.filter((x) => x !== customer.id),
    profile: profile[0] ? openProfile(keyring, profile[0]) : null,
    identities: identities.map((i) => toIdentityResponse(i, keyring)),
    traits: traits.map((t) => toTraitResponse(t, keyring)),
    consents: consents.map((c) => ({ ...c, metadata: openMetadata(keyring, c.metadata) })),
    consentHistory: consentHistory.map((h) => toConsentHistoryResponse(h, keyring)),
    segments,
    engagementScore: scores[0] ?? null,
    lifetimeValue: ltv[0] ?? null,
    journeySteps: journey,
    merges,
    events: events.map((e) => toEventResponse(e, keyring)),
  };
}
