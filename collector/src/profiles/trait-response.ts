import type { CdpTrait } from '@tributary/spec';
import type { customerTraits } from '../db/schema';
import type { Keyring } from '../privacy/encryption';
import { openMetadata, openTraitValue } from '../privacy/personal-data';

export type TraitRecord = typeof customerTraits.$inferSelect;

/** A trait row as the CDP API shows it, personal data and metadata opened. */
export function toTraitResponse(t: TraitRecord, keyring: Keyring): CdpTrait {
  return {
    ...t,
    traitValue: openTraitValue(keyring, t.traitKey, t.traitValue),
    metadata: openMetadata(keyring, t.metadata),
    computedAt: t.computedAt?.toISOString() ?? null,
    expiresAt: t.expiresAt?.toISOString() ?? null,
    createdAt: t.createdAt.toISOString(),
    updatedAt: t.updatedAt.toISOString(),
  };
}
