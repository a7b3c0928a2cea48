import { z } from 'zod';
import { ConsentType } from './cdp-consents';
import { Pagination } from './cdp-events';
import { EventType } from './event-types';
import { JsonObject } from './json';

export const SEGMENT_TYPES = ['STATIC', 'DYNAMIC', 'BEHAVIORAL', 'PREDICTIVE', 'LIFECYCLE', 'RFM'] as const;
export const SegmentType = z.enum(SEGMENT_TYPES);
export type SegmentType = z.infer<typeof SegmentType>;

const MARKETING_CONSENTS = ['MARKETING_EMAIL', 'MARKETING_SMS', 'MARKETING_PUSH'] as const;

/** The usual RFM cells (after Putler / the "RFM analysis" literature), from best to worst. */
export const RFM_CELLS = [
  'champions',
  'loyal',
  'potential_loyalists',
  'new_customers',
  'promising',
  'need_attention',
  'about_to_sleep',
  'at_risk',
  'cant_lose_them',
  'hibernating',
  'lost',
] as const;
export const RfmCell = z.enum(RFM_CELLS);
export type RfmCell = z.infer<typeof RfmCell>;

const finite = z.number().finite();
const scalar = z.union([z.string(), finite, z.boolean()]);

const comparison = {
  operator: z.enum(['equals', 'in', 'gt', 'gte', 'lt', 'lte', 'exists', 'contains']),
  value: z.union([scalar, z.array(scalar)]).optional(),
};

function checkComparison(c: { operator: string; value?: unknown }, ctx: z.RefinementCtx) {
  const issue = (message: string) => ctx.addIssue({ code: 'custom', path: ['value'], message });
  if (c.operator === 'exists') return;
  if (c.value === undefined) return issue(`is required for ${c.operator}`);
  if (c.operator === 'in' && !Array.isArray(c.value)) return issue('must be an array for in');
  if (c.operator !== 'in' && Array.isArray(c.value)) return issue(`must not be an array for ${c.operator}`);
  if (['gt', 'gte', 'lt', 'lte'].includes(c.operator) && typeof c.value === 'boolean')
    return issue(`must be a number or a date string for ${c.operator}`);
}

/** A trait compared with a value: `{ key: "plan", operator: "in", value: ["gold", "platinum"] }`. */
export const TraitCondition = z
  .strictObject({ key: z.string().min(1).max(256), ...comparison })
  .superRefine(checkComparison);

const NumericComparison = z.strictObject({
  operator: z.enum(['equals', 'gt', 'gte', 'lt', 'lte']),
  value: finite,
});

/** An event property compared with a value; `key` may be a dotted path (`order.total`). */
export const PropertyFilter = z
  .strictObject({ key: z.string().min(1).max(256), ...comparison })
  .superRefine(checkComparison);

export const EventCondition = z
  .strictObject({
    eventType: EventType.optional(),
    eventName: z.string().min(1).max(512).optional(),
    /** Defaults to "at least once". */
    count: NumericComparison.optional(),
    withinDays: z.number().int().min(1).max(3650).optional(),
    properties: z.array(PropertyFilter).max(20).optional(),
  })
  .refine((e) => e.eventType || e.eventName, { message: 'eventType or eventName is required', path: ['eventType'] });

export const SCORE_DIMENSIONS = ['overall', 'email', 'web', 'portal', 'recency', 'frequency', 'monetary'] as const;
export const ScoreCondition = NumericComparison.extend({ dimension: z.enum(SCORE_DIMENSIONS) });

export const LTV_FIELDS = [
  'currentValue',
  'predictedValue',
  'totalPurchases',
  'averagePurchaseValue',
  'purchaseFrequency',
  'customerTenure',
  'churnProbability',
] as const;
export const LifetimeValueCondition = NumericComparison.extend({ field: z.enum(LTV_FIELDS) });

export const ConsentCondition = z.strictObject({ consentType: ConsentType, granted: z.boolean() });

export const RfmCondition = z.strictObject({ cells: z.array(RfmCell).min(1).optional() });

/** A segment rule: one condition, or and / or / not of rules. */
export type SegmentRule = {
  and?: SegmentRule[] | undefined;
  or?: SegmentRule[] | undefined;
  not?: SegmentRule | undefined;
  trait?: z.infer<typeof TraitCondition> | undefined;
  event?: z.infer<typeof EventCondition> | undefined;
  score?: z.infer<typeof ScoreCondition> | undefined;
  lifetimeValue?: z.infer<typeof LifetimeValueCondition> | undefined;
  churnProbability?: z.infer<typeof NumericComparison> | undefined;
  consent?: z.infer<typeof ConsentCondition> | undefined;
  rfm?: z.infer<typeof RfmCondition> | undefined;
};

const RULE_KEYS = [
  'and',
  'or',
  'not',
  'trait',
  'event',
  'score',
  'lifetimeValue',
  'churnProbability',
  'consent',
  'rfm',
];

/**
 * One object with exactly one key (rather than a union) so that an error inside a nested rule is
 * reported at its path, `rules.and.1.trait.operator`, instead of as "no union member matched".
 */
export const SegmentRule: z.ZodType<SegmentRule> = z
  .lazy(
    () =>
      z
        .strictObject({
          and: z.array(SegmentRule).min(1).max(50).optional(),
          or: z.array(SegmentRule).min(1).max(50).optional(),
          not: SegmentRule.optional(),
          trait: TraitCondition.optional(),
          event: EventCondition.optional(),
          score: ScoreCondition.optional(),
          lifetimeValue: LifetimeValueCondition.optional(),
          churnProbability: NumericComparison.optional(),
          consent: ConsentCondition.optional(),
          rfm: RfmCondition.optional(),
        })
        .refine((r) => Object.keys(r).filter((k) => RULE_KEYS.includes(k)).length === 1, {
          message: `a rule has exactly one of ${RULE_KEYS.join(', ')}`,
        }),
    // A named schema, so the OpenAPI document can refer to it recursively.
  )
  .meta({ id: 'SegmentRule' });

export const SegmentIdParam = z.object({ segmentId: z.uuid() });
export const SegmentMemberParam = z.object({ segmentId: z.uuid(), customerId: z.uuid() });

/** `POST /api/v1/cdp/segments`. */
export const CreateSegment = z.object({
  name: z.string().trim().min(1).max(200),
  description: z.string().max(2000).optional(),
  segmentType: SegmentType,
  rules: SegmentRule.optional(),
  isActive: z.boolean().optional(),
});
export type CreateSegment = z.infer<typeof CreateSegment>;

/** `PATCH /api/v1/cdp/segments/:segmentId`. */
export const UpdateSegment = z.object({
  name: z.string().trim().min(1).max(200).optional(),
  description: z.string().max(2000).nullable().optional(),
  rules: SegmentRule.nullable().optional(),
  isActive: z.boolean().optional(),
});
export type UpdateSegment = z.infer<typeof UpdateSegment>;

export const Segment = z.object({
  id: z.string(),
  name: z.string(),
  description: z.string().nullable(),
  segmentType: SegmentType,
  rules: z.unknown().nullable(),
  isActive: z.boolean(),
  memberCount: z.number(),
  lastEvaluatedAt: z.string().nullable(),
  createdAt: z.string(),
  updatedAt: z.string(),
});
export type Segment = z.infer<typeof Segment>;

export const ListSegmentsQuery = Pagination.extend({ segmentType: SegmentType.optional() });

export const SegmentMembersQuery = Pagination.extend({
  /** Only members who currently grant this consent (an expired grant is not a grant). */
  consent: z.enum(MARKETING_CONSENTS).optional(),
});

export const SegmentMember = z.object({
  customerId: z.string(),
  email: z.string().nullable(),
  phoneNumber: z.string().nullable(),
  source: z.string(),
  addedAt: z.string(),
  metadata: JsonObject.nullable(),
  consents: z.object({ MARKETING_EMAIL: z.boolean(), MARKETING_SMS: z.boolean(), MARKETING_PUSH: z.boolean() }),
});
export type SegmentMember = z.infer<typeof SegmentMember>;

export const SegmentEvaluation = z.object({
  segmentId: z.string(),
  memberCount: z.number(),
  added: z.number(),
  removed: z.number(),
  evaluatedAt: z.string(),
});
export type SegmentEvaluation = z.infer<typeof SegmentEvaluation>;
