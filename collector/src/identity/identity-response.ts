import type { CdpIdentity } from '@tributary/spec';
import type { customerIdentities } from '../db/schema';
import type { Keyring } from '../privacy/encryption';
import { identityValueOf, PII_IDENTITY_TYPES } from '../privacy/identity-lookup';
import { openMetadata } from '../privacy/personal-data';

export type IdentityRecord = typeof customerIdentities.$inferSelect;

/**
 * An identity row as the CDP API shows it: the value in plain text, the blind index left out. Only
 * personal-data types are opened; a cookie or user ID is the sender's own string, whatever it looks like.
 */
export function toIdentityResponse(i: IdentityRecord, keyring: Keyring): CdpIdentity {
  const { valueHash: _valueHash, ...rest } = i;
  return {
    ...rest,
    identityValue: PII_IDENTITY_TYPES.has(i.identityType) ? identityValueOf(keyring, i.identityValue) : i.identityValue,
    metadata: openMetadata(keyring, i.metadata),
    verifiedAt: i.verifiedAt?.toISOString() ?? null,
    createdAt: i.createdAt.toISOString(),
    updatedAt: i.updatedAt.toISOString(),
  };
}
