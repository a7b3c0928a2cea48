import { z } from 'zod';
import { Pagination } from './cdp-events';
import { apiDate } from './dates';
import { JsonObject } from './json';

/** The product spec's identity types. */
export const IDENTITY_TYPES = [
  'EMAIL',
  'PHONE',
  'DEVICE_ID',
  'SESSION_ID',
  'EXTERNAL_ID',
  'COOKIE_ID',
  'IP_ADDRESS',
] as const;
export const IdentityType = z.enum(IDENTITY_TYPES);
export type IdentityType = z.infer<typeof IdentityType>;

const identityValue = z.string().min(1).max(512);

/** `POST /api/v1/cdp/identities/:customerId`. The value is normalized (emails lower-cased, phones E.164). */
export const CreateIdentityBody = z.object({
  identityType: IdentityType,
  identityValue,
  provider: z.string().max(256).optional(),
  verifiedAt: apiDate.optional(),
  isPrimary: z.boolean().optional(),
  metadata: JsonObject.optional(),
});
export type CreateIdentityBody = z.infer<typeof CreateIdentityBody>;

/** Names one identity of a customer: by its ID, or by type and value. */
const identityRef = z.object({
  identityId: z.uuid().optional(),
  identityType: IdentityType.optional(),
  identityValue: identityValue.optional(),
});
const requireRef = (ref: z.infer<typeof identityRef>, ctx: z.RefinementCtx) => {
  if (ref.identityId) return;
  if (!ref.identityType)
    ctx.addIssue({ code: 'custom', path: ['identityType'], message: 'identityId or identityType is required' });
  if (!ref.identityValue)
    ctx.addIssue({ code: 'custom', path: ['identityValue'], message: 'identityId or identityValue is required' });
};

/** `POST /api/v1/cdp/identities/:customerId/verify`. `verifiedAt` defaults to now. */
export const VerifyIdentityBody = identityRef.extend({ verifiedAt: apiDate.optional() }).superRefine(requireRef);
export type VerifyIdentityBody = z.infer<typeof VerifyIdentityBody>;

/** `POST /api/v1/cdp/identities/:customerId/set-primary`: one primary identity per type per customer. */
export const SetPrimaryIdentityBody = identityRef.superRefine(requireRef);
export type SetPrimaryIdentityBody = z.infer<typeof SetPrimaryIdentityBody>;

/** `GET /api/v1/cdp/identity/resolve` query. */
export const ResolveIdentityQuery = z.object({ identityType: IdentityType, identityValue });
export type ResolveIdentityQuery = z.infer<typeof ResolveIdentityQuery>;

/** `GET /api/v1/cdp/identities/:customerId` query. */
export const ListIdentitiesQuery = Pagination.extend({ identityType: IdentityType.optional() });
export type ListIdentitiesQuery = z.infer<typeof ListIdentitiesQuery>;

export const MERGE_STRATEGIES = ['merge', 'replace'] as const;

/** `POST /api/v1/cdp/identities/merge`. "merge": the target's values win; "replace": the source's win. */
export const MergeCustomersBody = z.object({
  sourceCustomerId: z.uuid(),
  targetCustomerId: z.uuid(),
  mergeStrategy: z.enum(MERGE_STRATEGIES).default('merge'),
});
export type MergeCustomersBody = z.infer<typeof MergeCustomersBody>;

/** The page a list answers with. */
export const PageInfo = z.object({ page: z.number(), limit: z.number(), total: z.number(), totalPages: z.number() });
export type PageInfo = z.infer<typeof PageInfo>;

/**
 * Every answer about a customer names the customer it is about; when the ID asked for was merged
 * away, `customerId` is the customer it became and `mergedFrom` is the ID asked for.
 */
export const CustomerRef = {
  customerId: z.string(),
  mergedFrom: z.string().optional(),
};

/** An identity as the CDP API returns it. */
export const CdpIdentity = z.object({
  id: z.string(),
  customerId: z.string(),
  identityType: IdentityType,
  identityValue: z.string(),
  isPrimary: z.boolean(),
  verifiedAt: z.string().nullable(),
  provider: z.string().nullable(),
  metadata: JsonObject.nullable(),
  createdAt: z.string(),
  updatedAt: z.string(),
});
export type CdpIdentity = z.infer<typeof CdpIdentity>;

export const IdentityResponse = z.object({ ...CustomerRef, identity: CdpIdentity });
export type IdentityResponse = z.infer<typeof IdentityResponse>;

export const IdentityListResponse = z.object({
  ...CustomerRef,
  identities: z.array(CdpIdentity),
  pagination: PageInfo,
});
export type IdentityListResponse = z.infer<typeof IdentityListResponse>;

/** The customer fields an identity lookup or merge answers with. */
export const CustomerSummary = z.object({
  id: z.string(),
  email: z.string().nullable(),
  phoneNumber: z.string().nullable(),
  firstName: z.string().nullable(),
  lastName: z.string().nullable(),
  isVerified: z.boolean(),
  lastLoginAt: z.string().nullable(),
  lastSeenAt: z.string().nullable(),
  createdAt: z.string(),
});
export type CustomerSummary = z.infer<typeof CustomerSummary>;

export const ResolveIdentityResponse = z.object({
  ...CustomerRef,
  customer: CustomerSummary,
  identity: CdpIdentity,
});
export type ResolveIdentityResponse = z.infer<typeof ResolveIdentityResponse>;

/** The record of one merge: who, when, which strategy. */
export const CustomerMerge = z.object({
  id: z.string(),
  sourceCustomerId: z.string(),
  targetCustomerId: z.string(),
  mergeStrategy: z.enum(MERGE_STRATEGIES),
  actor: z.string(),
  createdAt: z.string(),
});
export type CustomerMerge = z.infer<typeof CustomerMerge>;

export const MergeCustomersResponse = z.object({
  success: z.literal(true),
  merge: CustomerMerge,
  customer: CustomerSummary,
});
export type MergeCustomersResponse = z.infer<typeof MergeCustomersResponse>;
