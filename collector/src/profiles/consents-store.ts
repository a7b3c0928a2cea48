import type { ConsentType } from '@tributary/spec';
import { asc, inArray, sql } from 'drizzle-orm';
import type { Tx } from '../db/client';
import { customerConsentHistory, customerConsents, customers } from '../db/schema';
import { type ConsentHistoryRecord, type ConsentRecord, isGranted } from './consent-response';

/** One grant or revoke, from the API or from an event. */
export interface ConsentChange {
  customerId: string;
  consentType: ConsentType;
  granted: boolean;
  source: string | null;
  ipAddress: string | null;
  expiresAt: Date | null;
  metadata: Record<string, unknown> | null;
  /** Who made it: the API key's ID, or `ingestion` for consent carried by events. */
  actor: string;
  /** When it was made: the current record's grant, revoke and update times. */
  at: Date;
}

export interface ApplyConsentOptions {
  /**
   * Skip changes that would not change whether the consent is in force, and changes older than the
   * current record: consent stamped on every event must not write history on every event.
   */
  onlyIfChanged?: boolean;
}

export interface AppliedConsent {
  consent: ConsentRecord;
  history: ConsentHistoryRecord;
}

const key = (customerId: string, type: string) => `${customerId}\u0001${type}`;

/** What deciding whether a change changes a consent needs of its current record. */
export type CurrentConsent = Pick<ConsentRecord, 'customerId' | 'consentType' | 'granted' | 'expiresAt' | 'updatedAt'>;

/** Whether a change would change the consent in force: it is newer than the record and flips it. */
export function changesConsent(
  current: CurrentConsent | undefined,
  change: Pick<ConsentChange, 'granted' | 'expiresAt' | 'at'>,
): boolean {
  if (!current) return true;
  if (change.at < current.updatedAt) return false;
  return isGranted(current, change.at) !== isGranted(change, change.at);
}

/**
 * Records consent changes: the current state per customer and type is upserted and every change is
 * appended to the history with who, when, from where and the previous state (an expired grant counts
 * as not granted). The customers' rows are locked first, so concurrent changes of one customer's
 * consent are recorded in order. One statement each for reading, upserting and appending.
 */
export async function applyConsentChanges(
  tx: Tx,
  changes: ConsentChange[],
  options: ApplyConsentOptions = {},
): Promise<AppliedConsent[]> {
  if (!changes.length) return [];
  // One row per customer and type per statement: the latest change of each wins.
  const latest = new Map<string, ConsentChange>();
  for (const ch of [...changes].sort((a, b) => a.at.getTime() - b.at.getTime()))
    latest.set(key(ch.customerId, ch.consentType), ch);
  const customerIds = [...new Set(changes.map((c) => c.customerId))].sort();
  await tx
    .select({ id: customers.id })
    .from(customers)
    .where(inArray(customers.id, customerIds))
    .orderBy(asc(customers.id))
    .for('update');
  const current = await tx.select().from(customerConsents).where(inArray(customerConsents.customerId, customerIds));
  const currentOf = new Map(current.map((c) => [key(c.customerId, c.consentType), c]));

  const applied = [...latest.values()].filter(
    (ch) => !options.onlyIfChanged || changesConsent(currentOf.get(key(ch.customerId, ch.consentType)), ch),
  );
  if (!applied.length) return [];

  const consents = await tx
    .insert(customerConsents)
    .values(
      applied.map((ch) => ({
        customerId: ch.customerId,
        consentType: ch.consentType,
        granted: ch.granted,
        source: ch.source,
        ipAddress: ch.ipAddress,
        grantedAt: ch.granted ? ch.at : null,
        revokedAt: ch.granted ? null : ch.at,
        expiresAt: ch.expiresAt,
        metadata: ch.metadata,
        updatedAt: ch.at,
      })),
    )
    .onConflictDoUpdate({
      target: [customerConsents.customerId, customerConsents.consentType],
      set: {
        granted: sql`excluded.granted`,
        source: sql`excluded.source`,
        ipAddress: sql`excluded.ip_address`,
        // A revoke keeps the time of the grant it ended, and a grant the time of the last revoke.
        grantedAt: sql`coalesce(excluded.granted_at, ${customerConsents.grantedAt})`,
        revokedAt: sql`coalesce(excluded.revoked_at, ${customerConsents.revokedAt})`,
        expiresAt: sql`excluded.expires_at`,
        metadata: sql`excluded.metadata`,
        updatedAt: sql`excluded.updated_at`,
      },
    })
    .returning();

  const history = await tx
    .insert(customerConsentHistory)
    .values(
      applied.map((ch) => {
        const before = currentOf.get(key(ch.customerId, ch.consentType));
        return {
          customerId: ch.customerId,
          consentType: ch.consentType,
          granted: ch.granted,
          previousGranted: before ? isGranted(before, ch.at) : null,
          source: ch.source,
          ipAddress: ch.ipAddress,
          actor: ch.actor,
          expiresAt: ch.expiresAt,
          metadata: ch.metadata,
          // createdAt is the database's clock (microseconds), so the history's order is the order of recording.
        };
      }),
    )
    .returning();

  return applied.map((ch, i) => {
    const consent = consents.find((c) => c.customerId === ch.customerId && c.consentType === ch.consentType);
    const entry = history[i];
    if (!consent || !entry) throw new Error('a consent change was not recorded');
    return { consent, history: entry };
  });
}
