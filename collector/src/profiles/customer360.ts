import type { Customer360, EngagementScore, LifetimeValue, RfmCell } from '@tributary/spec';
import { and, asc, desc, eq, gt, isNull, or } from 'drizzle-orm';
import type { Db } from '../db/client';
import {
  customerConsents,
  customerEngagementScores,
  customerEvents,
  customerIdentities,
  customerLifetimeValues,
  customerProfiles,
  customerSegmentMemberships,
  customerSegments,
  customerTraits,
} from '../db/schema';
import { newestEventsOfCustomer } from '../events/customer-events';
import { toEventResponse } from '../events/event-response';
import type { Metrics } from '../http/metrics';
import { timed } from '../http/metrics';
import { toIdentityResponse } from '../identity/identity-response';
import type { Keyring } from '../privacy/encryption';
import { openProfile } from '../privacy/personal-data';
import { profilingRevoked } from '../privacy/profiling-consent';
import { toConsentResponse } from './consent-response';
import { toCustomerSummary } from './customer-ref';
import { computeEngagementScore, toEngagementResponse } from './engagement-score';
import { computeJourneySteps, journeyStepsQuery, toJourneyStepResponse } from './journey-steps';
import { computeLifetimeValue, type PopulationModelCache, toLifetimeValueResponse } from './lifetime-value';
import { type CustomerRecord, requireCustomer } from './require-customer';
import { toTraitResponse } from './trait-response';

/** Derived data older than this is recomputed on read even when no new event arrived. */
export const DERIVED_MAX_AGE_MS = 15 * 60 * 1000;
const RECENT_EVENTS = 20;

export interface DerivedDeps {
  db: Db;
  models: PopulationModelCache;
  metrics: Metrics;
  /** Opens the personal data the view shows (sealed at rest). */
  keyring: Keyring;
}

/** Engagement score and journey steps, both read from the events, recomputed together. */
export async function recomputeEngagement(deps: DerivedDeps, customerId: string, now = new Date()) {
  const result = await timed(deps.metrics, 'engagement', () => computeEngagementScore(deps.db, customerId, now));
  await timed(deps.metrics, 'journey', () => computeJourneySteps(deps.db, customerId));
  return result;
}

export function recomputeLifetimeValue(deps: DerivedDeps, customer: CustomerRecord, now = new Date()) {
  return timed(deps.metrics, 'lifetime_value', () => computeLifetimeValue(deps.db, deps.models, customer, now));
}

/** Derived data is stale when older than the max age or than the newest event the customer has. */
const isStale = (computedAt: Date | undefined, newestEventAt: Date | null, now: Date) =>
  !computedAt ||
  now.getTime() - computedAt.getTime() > DERIVED_MAX_AGE_MS ||
  (!!newestEventAt && newestEventAt > computedAt);

/**
 * The Customer 360 view. After the customer is found (following a merge), every section is read in
 * one round of parallel queries; stale scores, lifetime value and journey are then recomputed and
 * the view answers with the fresh ones.
 */
export async function customer360(deps: DerivedDeps, id: string, now = new Date()): Promise<Customer360> {
  const { db, keyring } = deps;
  const customer = await requireCustomer(db, id);
  const cid = customer.id;
  const [profile, identities, traits, segments, consents, engagement, ltv, events, steps] = await Promise.all([
    db.select().from(customerProfiles).where(eq(customerProfiles.customerId, cid)).limit(1),
    db
      .select()
      .from(customerIdentities)
      .where(eq(customerIdentities.customerId, cid))
      .orderBy(asc(customerIdentities.identityType), asc(customerIdentities.createdAt)),
    db
      .select()
      .from(customerTraits)
      .where(
        and(
          eq(customerTraits.customerId, cid),
          or(isNull(customerTraits.expiresAt), gt(customerTraits.expiresAt, now)),
        ),
      )
      .orderBy(asc(customerTraits.traitKey)),
    db
      .select({ membership: customerSegmentMemberships, segment: customerSegments })
      .from(customerSegmentMemberships)
      .innerJoin(customerSegments, eq(customerSegments.id, customerSegmentMemberships.segmentId))
      .where(eq(customerSegmentMemberships.customerId, cid))
      .orderBy(asc(customerSegments.name)),
    db
      .select()
      .from(customerConsents)
      .where(eq(customerConsents.customerId, cid))
      .orderBy(asc(customerConsents.consentType)),
    db.select().from(customerEngagementScores).where(eq(customerEngagementScores.customerId, cid)).limit(1),
    db.select().from(customerLifetimeValues).where(eq(customerLifetimeValues.customerId, cid)).limit(1),
    db
      .select()
      .from(customerEvents)
      .where(newestEventsOfCustomer(cid, RECENT_EVENTS))
      .orderBy(desc(customerEvents.timestamp), desc(customerEvents.id))
      .limit(RECENT_EVENTS),
    journeyStepsQuery(db, cid),
  ]);

  // The newest event by arrival: a late event with an old timestamp also makes derived data stale.
  const newestEventAt = events.reduce<Date | null>((m, e) => (!m || e.receivedAt > m ? e.receivedAt : m), null);
  // Revoked PERSONALIZATION or PROFILING: nothing computed about the customer is computed or shown.
  const computing = !profilingRevoked(consents);
  let engagementScore: EngagementScore | null = computing && engagement[0] ? toEngagementResponse(engagement[0]) : null;
  let lifetimeValue: LifetimeValue | null = computing && ltv[0] ? toLifetimeValueResponse(ltv[0]) : null;
  let journey = steps;
  const staleEngagement = computing && isStale(engagement[0]?.computedAt, newestEventAt, now);
  const staleLtv = computing && isStale(ltv[0]?.computedAt, newestEventAt, now);
  if (staleEngagement || staleLtv) {
    const [fresh, freshLtv] = await Promise.all([
      staleEngagement ? recomputeEngagement(deps, cid, now) : null,
      staleLtv ? recomputeLifetimeValue(deps, customer, now) : null,
    ]);
    if (fresh) {
      engagementScore = fresh.score;
      journey = await journeyStepsQuery(db, cid);
    }
    if (freshLtv) lifetimeValue = freshLtv;
  }

  const p = profile[0] && openProfile(keyring, profile[0]);
  return {
    customer: toCustomerSummary(customer, keyring),
    ...(customer.mergedFrom ? { mergedFrom: customer.mergedFrom } : {}),
    profile: p
      ? {
          dateOfBirth: p.dateOfBirth,
          preferredContact: p.preferredContact,
          address: p.address,
          emergencyContact: p.emergencyContact,
          preferences: p.preferences,
        }
      : null,
    identities: identities.map((i) => toIdentityResponse(i, keyring)),
    traits: traits.filter((t) => computing || t.source !== 'computed').map((t) => toTraitResponse(t, keyring)),
    segments: segments.map(({ membership, segment }) => ({
      id: segment.id,
      name: segment.name,
      segmentType: segment.segmentType,
      source: membership.source,
      addedAt: membership.addedAt.toISOString(),
      rfmCell: (membership.metadata?.cell as RfmCell | undefined) ?? null,
    })),
    consents: consents.map((k) => toConsentResponse(k.consentType, k, keyring, now)),
    engagementScore,
    lifetimeValue,
    recentEvents: events.map((e) => toEventResponse(e, keyring)),
    journeySteps: journey.map(toJourneyStepResponse),
  };
}
