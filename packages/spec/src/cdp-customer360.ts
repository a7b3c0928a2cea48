import { z } from 'zod';
import { CdpConsent } from './cdp-consents';
import { CdpEvent } from './cdp-events';
import { CdpIdentity, CustomerRef, CustomerSummary } from './cdp-identities';
import { RfmCell, SegmentType } from './cdp-segments';
import { CdpTrait } from './cdp-traits';
import { JsonObject } from './json';

const isoDate = z.string();

/** Engagement in seven dimensions, each 0 to 100 (formula in the README). */
export const EngagementScore = z.object({
  overallScore: z.number(),
  emailScore: z.number(),
  webScore: z.number(),
  portalScore: z.number(),
  recencyScore: z.number(),
  frequencyScore: z.number(),
  monetaryScore: z.number(),
  computedAt: isoDate,
});
export type EngagementScore = z.infer<typeof EngagementScore>;

/** Lifetime value from PURCHASE events, with BG/NBD + Gamma-Gamma predictions (`model` holds the fit). */
export const LifetimeValue = z.object({
  currentValue: z.number(),
  predictedValue: z.number(),
  totalPurchases: z.number(),
  averagePurchaseValue: z.number(),
  purchaseFrequency: z.number(),
  customerTenure: z.number(),
  churnProbability: z.number(),
  model: JsonObject.nullable(),
  computedAt: isoDate,
});
export type LifetimeValue = z.infer<typeof LifetimeValue>;

export const JOURNEY_STEP_TYPES = [
  'FIRST_VISIT',
  'IDENTIFIED',
  'LOGIN',
  'QUOTE_REQUESTED',
  'QUOTE_VIEWED',
  'PURCHASE',
  'POLICY_VIEWED',
  'DOCUMENT_UPLOADED',
  'CLAIM_SUBMITTED',
] as const;
export const JourneyStepType = z.enum(JOURNEY_STEP_TYPES);

/** A milestone of the customer's journey and the event that marked it. */
export const JourneyStep = z.object({
  stepType: JourneyStepType,
  stepName: z.string(),
  occurredAt: isoDate,
  eventId: z.string().nullable(),
  eventMessageId: z.string().nullable(),
  metadata: JsonObject.nullable(),
});
export type JourneyStep = z.infer<typeof JourneyStep>;

export const Customer360Segment = z.object({
  id: z.string(),
  name: z.string(),
  segmentType: SegmentType,
  source: z.string(),
  addedAt: isoDate,
  rfmCell: RfmCell.nullable(),
});

/** `GET /api/v1/cdp/customer360/:customerId`. */
export const Customer360 = z.object({
  customer: CustomerSummary,
  /** Set when the ID asked for was merged away: the view is of the customer it became. */
  mergedFrom: z.string().optional(),
  profile: z
    .object({
      dateOfBirth: z.string().nullable(),
      preferredContact: z.string().nullable(),
      address: JsonObject.nullable(),
      emergencyContact: JsonObject.nullable(),
      preferences: JsonObject.nullable(),
    })
    .nullable(),
  identities: z.array(CdpIdentity),
  /** Current traits; expired ones are left out. */
  traits: z.array(CdpTrait),
  segments: z.array(Customer360Segment),
  /** The recorded consents; an expired grant reads `granted: false, status: "EXPIRED"`. */
  consents: z.array(CdpConsent),
  engagementScore: EngagementScore.nullable(),
  lifetimeValue: LifetimeValue.nullable(),
  recentEvents: z.array(CdpEvent),
  journeySteps: z.array(JourneyStep),
});
export type Customer360 = z.infer<typeof Customer360>;

/** `POST /api/v1/cdp/traits/:customerId/compute-engagement`: the ENGAGEMENT traits written. */
export const ComputedEngagementTraits = z.object({
  ...CustomerRef,
  traits: z.array(CdpTrait),
  engagementScore: EngagementScore,
});
