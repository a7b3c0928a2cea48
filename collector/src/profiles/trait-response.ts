import type { CdpTrait } from '@tributary/spec';
import type { customerTraits } from '../db/schema';
import type { Keyring } from '../privacy/encryption';
import { openTraitValue } from '../privacy/personal-data';

export type TraitRecord = typeof customerTraits.$inferSelect;

/** A trait row as the CDP API shows it, a personal-data value opened. */
export function toTraitResponse(t: TraitRecord, keyring: Keyring): CdpTrait {
  return {
    ...t,
    traitValue: openTraitValue(keyring, t.traitKey, t.traitValue),
    computedAt: t.computedAt?.toISOString() ?? null,
    expiresAt: t.expiresAt?.toISOString() ?? null,
    createdAt: t.createdAt.toISOString(),
    updatedAt: t.updatedAt.toISOString(),
  };
}
