import type { CdpIdentity } from '@tributary/spec';
import type { customerIdentities } from '../db/schema';

export type IdentityRecord = typeof customerIdentities.$inferSelect;

/** An identity row as the CDP API shows it. */
export function toIdentityResponse(i: IdentityRecord): CdpIdentity {
  return {
    ...i,
    verifiedAt: i.verifiedAt?.toISOString() ?? null,
    createdAt: i.createdAt.toISOString(),
    updatedAt: i.updatedAt.toISOString(),
  };
}
