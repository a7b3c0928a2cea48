import { z } from 'zod';
import { Pagination } from './cdp-events';
import { CustomerRef, PageInfo } from './cdp-identities';
import { apiDate } from './dates';
import { JsonObject } from './json';

/** The product spec's consent types. */
export const CONSENT_TYPES = [
  'MARKETING_EMAIL',
  'MARKETING_SMS',
  'MARKETING_PUSH',
  'DATA_PROCESSING',
  'THIRD_PARTY_SHARING',
  'ANALYTICS_TRACKING',
  'PERSONALIZATION',
  'PROFILING',
] as const;
export const ConsentType = z.enum(CONSENT_TYPES);
export type ConsentType = z.infer<typeof ConsentType>;

/** `POST /api/v1/cdp/consents/:customerId`: grant (`granted: true`) or revoke. */
export const SetConsentBody = z.object({
  consentType: ConsentType,
  granted: z.boolean(),
  source: z.string().max(256).optional(),
  ipAddress: z.union([z.ipv4(), z.ipv6()], { error: 'must be an IPv4 or IPv6 address' }).optional(),
  expiresAt: apiDate.refine((d) => d.getTime() > Date.now(), 'must be in the future').optional(),
  metadata: JsonObject.optional(),
});
export type SetConsentBody = z.infer<typeof SetConsentBody>;

export const ConsentTypeParams = z.object({ customerId: z.uuid(), consentType: ConsentType });

/** `GET /api/v1/cdp/consents/:customerId/history` query. */
export const ConsentHistoryQuery = Pagination.extend({ consentType: ConsentType.optional() });
export type ConsentHistoryQuery = z.infer<typeof ConsentHistoryQuery>;

/**
 * GRANTED and REVOKED are what was last recorded; EXPIRED is a grant past its `expiresAt`;
 * NOT_SET means nothing was ever recorded. Only GRANTED reads as `granted: true`.
 */
export const ConsentStatus = z.enum(['GRANTED', 'REVOKED', 'EXPIRED', 'NOT_SET']);
export type ConsentStatus = z.infer<typeof ConsentStatus>;

/** The current state of one consent type, as the CDP API returns it. */
export const CdpConsent = z.object({
  consentType: ConsentType,
  granted: z.boolean(),
  status: ConsentStatus,
  source: z.string().nullable(),
  ipAddress: z.string().nullable(),
  grantedAt: z.string().nullable(),
  revokedAt: z.string().nullable(),
  expiresAt: z.string().nullable(),
  metadata: JsonObject.nullable(),
  updatedAt: z.string().nullable(),
});
export type CdpConsent = z.infer<typeof CdpConsent>;

/** One change of a consent: who made it, when, from where, and what it was before. */
export const ConsentHistoryEntry = z.object({
  id: z.string(),
  consentType: ConsentType,
  granted: z.boolean(),
  previousGranted: z.boolean().nullable(),
  source: z.string().nullable(),
  ipAddress: z.string().nullable(),
  actor: z.string().nullable(),
  expiresAt: z.string().nullable(),
  metadata: JsonObject.nullable(),
  createdAt: z.string(),
});
export type ConsentHistoryEntry = z.infer<typeof ConsentHistoryEntry>;

export const ConsentResponse = z.object({ ...CustomerRef, consent: CdpConsent });
export type ConsentResponse = z.infer<typeof ConsentResponse>;

export const SetConsentResponse = z.object({ ...CustomerRef, consent: CdpConsent, change: ConsentHistoryEntry });
export type SetConsentResponse = z.infer<typeof SetConsentResponse>;

export const ConsentListResponse = z.object({ ...CustomerRef, consents: z.array(CdpConsent) });
export type ConsentListResponse = z.infer<typeof ConsentListResponse>;

export const ConsentHistoryResponse = z.object({
  ...CustomerRef,
  history: z.array(ConsentHistoryEntry),
  pagination: PageInfo,
});
export type ConsentHistoryResponse = z.infer<typeof ConsentHistoryResponse>;
