import { z } from 'zod';
import { Pagination } from './cdp-events';
import { PageInfo } from './cdp-identities';
import { apiDate } from './dates';
import { EventType } from './event-types';

export const KEY_KINDS = ['write', 'read', 'admin'] as const;
export const KeyKind = z.enum(KEY_KINDS);

/** `POST /api/v1/admin/keys`. */
export const CreateKeyBody = z.object({
  kind: KeyKind,
  name: z.string().min(1).max(200).optional(),
  /** Write keys only: require identify calls to carry an HMAC of the userId (see the README). */
  identityVerification: z.boolean().optional(),
});

export const KEY_SOURCES = ['api', 'environment'] as const;

export const ApiKeyInfo = z.object({
  /** A stored key's UUID, or `env:` and 12 hex digits for a key from `WRITE_KEYS` / `API_KEYS`. */
  id: z.string(),
  kind: KeyKind,
  /** For a key from the environment: the variable that names it. */
  name: z.string().nullable(),
  prefix: z.string(),
  /** Created through the API, or named by `WRITE_KEYS` / `API_KEYS`. */
  source: z.enum(KEY_SOURCES),
  identityVerification: z.boolean(),
  /** Null for a key from the environment. */
  createdAt: z.string().nullable(),
  revokedAt: z.string().nullable(),
});

export const CreatedKey = ApiKeyInfo.extend({
  /** The secret, shown once: only its hash is stored. */
  secret: z.string(),
  verificationSecret: z.string().optional(),
});

export const KeyIdParam = z.object({
  keyId: z.union([z.uuid(), z.string().regex(/^env:[0-9a-f]{12}$/, 'a key id: a UUID, or env: and 12 hex digits')]),
});
export const KeyList = z.object({ keys: z.array(ApiKeyInfo), pagination: PageInfo });

/** `GET /api/v1/admin/audit` query. */
export const AuditQuery = Pagination.extend({
  keyId: z.string().max(200).optional(),
  customerId: z.uuid().optional(),
  action: z.string().max(300).optional(),
  outcome: z.enum(['success', 'refused', 'error']).optional(),
  from: apiDate.optional(),
  to: apiDate.optional(),
});

export const AuditEntry = z.object({
  id: z.string(),
  keyId: z.string(),
  action: z.string(),
  customerId: z.string().nullable(),
  method: z.string(),
  endpoint: z.string(),
  status: z.number(),
  outcome: z.string(),
  at: z.string(),
});
export const AuditList = z.object({ entries: z.array(AuditEntry), pagination: PageInfo });

export const REGULATION_TYPES = ['SUPPRESS', 'SUPPRESS_WITH_DELETE', 'DELETE_ONLY', 'UNSUPPRESS'] as const;

/** `POST /api/v1/admin/regulations`: a privacy request for a customer or for one identity. */
export const CreateRegulationBody = z
  .object({
    regulationType: z.enum(REGULATION_TYPES),
    customerId: z.uuid().optional(),
    identityType: z
      .enum(['EMAIL', 'PHONE', 'DEVICE_ID', 'SESSION_ID', 'EXTERNAL_ID', 'COOKIE_ID', 'IP_ADDRESS'])
      .optional(),
    identityValue: z.string().min(1).max(512).optional(),
  })
  .refine((b) => b.customerId || (b.identityType && b.identityValue), {
    message: 'customerId, or identityType with identityValue, is required',
    path: ['customerId'],
  });

export const Regulation = z.object({
  id: z.string(),
  regulationType: z.enum(REGULATION_TYPES),
  customerId: z.string().nullable(),
  identityType: z.string().nullable(),
  status: z.string(),
  deleted: z.record(z.string(), z.number()).nullable(),
  actor: z.string(),
  createdAt: z.string(),
  finishedAt: z.string().nullable(),
});
export const RegulationIdParam = z.object({ regulationId: z.uuid() });
export const RegulationList = z.object({ regulations: z.array(Regulation), pagination: PageInfo });

export const RetentionPolicy = z.object({ eventType: EventType, days: z.number().int() });
export const RetentionPolicies = z.object({ policies: z.array(RetentionPolicy) });
export const RetentionParam = z.object({ eventType: EventType });
export const SetRetentionBody = z.object({ days: z.number().int().min(1).max(36500) });
export const RetentionRun = z.object({ deleted: z.record(z.string(), z.number()) });
