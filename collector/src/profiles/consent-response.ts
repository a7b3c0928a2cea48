import type { CdpConsent, ConsentHistoryEntry, ConsentType } from '@tributary/spec';
import type { customerConsentHistory, customerConsents } from '../db/schema';
import type { Keyring } from '../privacy/encryption';
import { openMetadata } from '../privacy/personal-data';

export type ConsentRecord = typeof customerConsents.$inferSelect;
export type ConsentHistoryRecord = typeof customerConsentHistory.$inferSelect;

/** Whether a consent is in force now: granted and not past its expiry. */
export const isGranted = (c: Pick<ConsentRecord, 'granted' | 'expiresAt'> | undefined, now = new Date()) =>
  !!c?.granted && (!c.expiresAt || c.expiresAt > now);

/** The current state of one consent type, its metadata opened; `row` is undefined when nothing was ever recorded. */
export function toConsentResponse(
  type: ConsentType,
  row: ConsentRecord | undefined,
  keyring: Keyring,
  now = new Date(),
): CdpConsent {
  if (!row) {
    return {
      consentType: type,
      granted: false,
      status: 'NOT_SET',
      source: null,
      ipAddress: null,
      grantedAt: null,
      revokedAt: null,
      expiresAt: null,
      metadata: null,
      updatedAt: null,
    };
  }
  const granted = isGranted(row, now);
  return {
    consentType: type,
    granted,
    status: granted ? 'GRANTED' : row.granted ? 'EXPIRED' : 'REVOKED',
    source: row.source,
    ipAddress: row.ipAddress,
    grantedAt: row.grantedAt?.toISOString() ?? null,
    revokedAt: row.revokedAt?.toISOString() ?? null,
    expiresAt: row.expiresAt?.toISOString() ?? null,
    metadata: openMetadata(keyring, row.metadata),
    updatedAt: row.updatedAt.toISOString(),
  };
}

export function toConsentHistoryResponse(h: ConsentHistoryRecord, keyring: Keyring): ConsentHistoryEntry {
  return {
    id: h.id,
    consentType: h.consentType,
    granted: h.granted,
    previousGranted: h.previousGranted,
    source: h.source,
    ipAddress: h.ipAddress,
    actor: h.actor,
    expiresAt: h.expiresAt?.toISOString() ?? null,
    metadata: openMetadata(keyring, h.metadata),
    createdAt: h.createdAt.toISOString(),
  };
}
