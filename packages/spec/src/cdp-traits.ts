import { z } from 'zod';
import { Pagination } from './cdp-events';
import { CustomerRef, PageInfo } from './cdp-identities';
import { apiDate } from './dates';
import { JsonObject } from './json';

/** The product spec's trait types. */
export const TRAIT_TYPES = [
  'DEMOGRAPHIC',
  'BEHAVIORAL',
  'COMPUTED',
  'TRANSACTIONAL',
  'PREFERENCE',
  'ENGAGEMENT',
  'RISK',
  'LIFECYCLE',
] as const;
export const TraitType = z.enum(TRAIT_TYPES);
export type TraitType = z.infer<typeof TraitType>;

export const TraitKey = z
  .string()
  .min(1)
  .max(256)
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it refuses
  .regex(/^[^\u0000-\u001f]*$/, 'must not contain control characters');

/** A trait value's JSON takes at most 32 KB, as an event does: the Customer 360 view reads every trait at once. */
export const TRAIT_VALUE_BYTES = 32 * 1024;
const encoder = new TextEncoder();
const storableSize = (v: unknown) => encoder.encode(JSON.stringify(v ?? null)).length <= TRAIT_VALUE_BYTES;

/** `POST /api/v1/cdp/traits/:customerId`: upsert by `traitKey`. The value keeps its JSON type. */
export const SetTraitBody = z.object({
  traitKey: TraitKey,
  traitValue: z
    .unknown()
    .refine((v) => v !== undefined, 'is required')
    .refine(storableSize, `must take at most ${TRAIT_VALUE_BYTES / 1024} KB as JSON`),
  traitType: TraitType,
  source: z.string().max(256).optional(),
  computedAt: apiDate.optional(),
  expiresAt: apiDate.refine((d) => d.getTime() > Date.now(), 'must be in the future').optional(),
  metadata: JsonObject.optional(),
});
export type SetTraitBody = z.infer<typeof SetTraitBody>;

/** `POST /api/v1/cdp/traits/:customerId/batch`: all traits are stored, or none. */
export const SetTraitsBatchBody = z.object({
  traits: z
    .array(SetTraitBody)
    .min(1)
    .max(500)
    .superRefine((traits, ctx) => {
      const seen = new Set<string>();
      traits.forEach((t, i) => {
        if (seen.has(t.traitKey))
          ctx.addIssue({ code: 'custom', path: [i, 'traitKey'], message: `${t.traitKey} appears twice` });
        seen.add(t.traitKey);
      });
    }),
});
export type SetTraitsBatchBody = z.infer<typeof SetTraitsBatchBody>;

export const TraitKeyParams = z.object({ customerId: z.uuid(), traitKey: TraitKey });

/** `GET /api/v1/cdp/traits/:customerId` query. */
export const ListTraitsQuery = Pagination.extend({ traitType: TraitType.optional() });
export type ListTraitsQuery = z.infer<typeof ListTraitsQuery>;

/** A trait as the CDP API returns it. */
export const CdpTrait = z.object({
  id: z.string(),
  customerId: z.string(),
  traitKey: z.string(),
  traitValue: z.unknown(),
  traitType: TraitType,
  source: z.string().nullable(),
  computedAt: z.string().nullable(),
  expiresAt: z.string().nullable(),
  metadata: JsonObject.nullable(),
  createdAt: z.string(),
  updatedAt: z.string(),
});
export type CdpTrait = z.infer<typeof CdpTrait>;

export const TraitResponse = z.object({ ...CustomerRef, trait: CdpTrait });
export type TraitResponse = z.infer<typeof TraitResponse>;

export const TraitsResponse = z.object({ ...CustomerRef, traits: z.array(CdpTrait) });
export type TraitsResponse = z.infer<typeof TraitsResponse>;

export const TraitListResponse = z.object({ ...CustomerRef, traits: z.array(CdpTrait), pagination: PageInfo });
export type TraitListResponse = z.infer<typeof TraitListResponse>;

export const DeleteTraitResponse = z.object({ ...CustomerRef, deleted: z.literal(true), traitKey: z.string() });
export type DeleteTraitResponse = z.infer<typeof DeleteTraitResponse>;
