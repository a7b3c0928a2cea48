import type { CdpTrait } from '@tributary/spec';
import type { customerTraits } from '../db/schema';

export type TraitRecord = typeof customerTraits.$inferSelect;

/** A trait row as the CDP API shows it. */
export function toTraitResponse(t: TraitRecord): CdpTrait {
  return {
    ...t,
    computedAt: t.computedAt?.toISOString() ?? null,
    expiresAt: t.expiresAt?.toISOString() ?? null,
    createdAt: t.createdAt.toISOString(),
    updatedAt: t.updatedAt.toISOString(),
  };
}
