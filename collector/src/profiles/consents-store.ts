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
  /**
   * Whether its sender is known to speak for the customer: a key through the API, or an event whose
   * userId carries its valid signature (identity verification). Consent stamped on any other event
   * is not: it may restrict, never grant over a revocation made through the API (see `mayChange`).
   */
  trusted: boolean;
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
export type CurrentConsent = Pick<
  ConsentRecord,
  'customerId' | 'consentType' | 'granted' | 'source' | 'expiresAt' | 'updatedAt'
>;

/** How the source of consent carried by an event begins (`event:track`, `event:identify`...). */
export const EVENT_SOURCE = 'event:';

type ChangeInForce = Pick<ConsentChange, 'granted' | 'expiresAt' | 'at' | 'trusted'>;

/**
 * Whether a change may be recorded over the current record: an untrusted grant never overrides a
 * revocation made through the API (any source but an event's), while revoking is always allowed.
 *
 * Only the API's revocations stand, not every recorded one: a visitor who revoked in the browser
 * opts in again from the browser, with the same unsigned kind of event (the SDK signs identify
 * only), and were that grant refused, a revoked ANALYTICS_TRACKING would drop their every event
 * for good. A revocation made through the API (a backend, a support desk, an unsubscribe link)
 * stands against the stamp a browser keeps sending on every event, chosen before it. Without
 * identity verification anyone may send as any userId, so a revocation an event made may be undone
 * by another sender's event, as it could have been made by one; with it, an unsigned event reaches
 * a customer only through its anonymous IDs, which only signed calls link (ingestion-consent.ts).
 * An API caller is trusted with the source it records, so one naming an `event:` source made a
 * revocation events may undo.
 */
export function mayChange(current: CurrentConsent | undefined, change: ChangeInForce): boolean {
  return change.trusted || !change.granted || !current || current.granted || !!current.source?.startsWith(EVENT_SOURCE);
}

/** Whether a change would change the consent in force: it may, is newer than the record and flips it. */
export function changesConsent(current: CurrentConsent | undefined, change: ChangeInForce): boolean {
  if (!current) return true;
  if (change.at < current.updatedAt || !mayChange(current, change)) return false;
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

  const applied = [...latest.values()].filter((ch) => {
    const current = currentOf.get(key(ch.customerId, ch.consentType));
    return options.onlyIfChanged ? changesConsent(current, ch) : mayChange(current, ch);
  });
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
