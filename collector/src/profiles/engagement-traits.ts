import type { CdpTrait, EngagementScore } from '@tributary/spec';
import type { Db } from '../db/client';
import type { Keyring } from '../privacy/encryption';
import type { EngagementInputs } from './engagement-score';
import { toTraitResponse } from './trait-response';
import { upsertTraits } from './traits-store';

/** engagement_level from the overall score: high ≥ 70, medium ≥ 40, low ≥ 15, else dormant. */
export function engagementLevel(overall: number): 'high' | 'medium' | 'low' | 'dormant' {
  if (overall >= 70) return 'high';
  if (overall >= 40) return 'medium';
  if (overall >= 15) return 'low';
  return 'dormant';
}

/** The channel with the highest score, or null when the customer has none. */
function preferredChannel(s: EngagementScore): string | null {
  const channels = [
    ['email', s.emailScore],
    ['web', s.webScore],
    ['portal', s.portalScore],
  ] as const;
  const [name, score] = channels.reduce((best, c) => (c[1] > best[1] ? c : best));
  return score > 0 ? name : null;
}

/**
 * Writes the ENGAGEMENT traits derived from an engagement score (source `computed`, `computedAt` set),
 * upserting by key so the customer's other traits are untouched.
 */
export async function writeEngagementTraits(
  db: Db,
  keyring: Keyring,
  customerId: string,
  score: EngagementScore,
  inputs: EngagementInputs,
  now: Date,
): Promise<CdpTrait[]> {
  const lastActive =
    inputs.daysSinceLastEvent === null ? null : new Date(now.getTime() - inputs.daysSinceLastEvent * 86_400_000);
  const values: Record<string, string | number | null> = {
    engagement_level: engagementLevel(score.overallScore),
    engagement_score: score.overallScore,
    last_active_at: lastActive?.toISOString() ?? null,
    days_since_last_active: inputs.daysSinceLastEvent === null ? null : Math.floor(inputs.daysSinceLastEvent),
    active_days_90d: inputs.activeDays,
    preferred_channel: preferredChannel(score),
  };
  const rows = await upsertTraits(
    db,
    keyring,
    customerId,
    Object.entries(values).map(([traitKey, traitValue]) => ({
      traitKey,
      traitValue,
      traitType: 'ENGAGEMENT' as const,
      source: 'computed',
      computedAt: now,
      metadata: { from: 'engagement_score', scoreComputedAt: score.computedAt },
    })),
  );
  return rows.map((t) => toTraitResponse(t, keyring));
}
