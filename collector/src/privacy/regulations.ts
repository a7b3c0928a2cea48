import { and, eq, inArray, or, sql } from 'drizzle-orm';
import { type Db, queryRows, type Tx } from '../db/client';
import { customerIdentities, customerMerges, customers, regulations, suppressions } from '../db/schema';
import { uuidList } from '../db/sql-lists';
import { eventsOfCustomer } from '../events/customer-events';
import { badRequest, errorSummary, notFound } from '../http/errors';
import { type IdentityType, normalizeIdentity } from '../identity/normalize-identity';
import { requireCustomer } from '../profiles/require-customer';
import { tombstoneAuditRows } from './audit-trail';
import { blindIndex, type Keyring } from './encryption';
import { findIdentityOwner } from './identity-lookup';
import { announceRevocation, type RevocationChange } from './revocation-feed';
import { type Tombstones, tombstoneOf, tombstonesOf } from './tombstone';

export type RegulationType = 'SUPPRESS' | 'SUPPRESS_WITH_DELETE' | 'DELETE_ONLY' | 'UNSUPPRESS';

export interface RegulationRequest {
  regulationType: RegulationType;
  customerId?: string | undefined;
  identityType?: IdentityType | undefined;
  identityValue?: string | undefined;
}

/** What a deletion erased, for the work that follows its commit. */
export interface Erasure {
  /** The deleted customers (the one named and those merged into it) and their tombstones. */
  tombstones: Tombstones;
  /** The tables rows were deleted from or rewritten in. */
  tables: string[];
}

export interface ApplyRegulationOptions {
  /** Runs after a deletion has committed, before the regulation is answered (audit buffers, VACUUM on PGlite). */
  afterDeletion?: (erasure: Erasure) => Promise<void>;
  /** Country assumed for a phone number without a country code, as ingestion assumes it (default US). */
  defaultPhoneCountry?: string;
}

interface Subject {
  customerId: string | null;
  /** Hashes of the identities to (un)suppress. */
  identities: { type: IdentityType; hash: string }[];
}

/**
 * Carries out a privacy request (Segment's regulation types) in one transaction and records it.
 * Deletion removes every row that belongs to the customer (and to customers merged into it): events,
 * identities, traits, consents and their history, scores, lifetime value, memberships, journey, profile.
 * What stays is the regulation record, which holds no personal data. After a deletion neither it nor
 * the audit trail names the deleted customers by their IDs: by their tombstones (tombstone.ts).
 */
export async function applyRegulation(
  db: Db,
  keyring: Keyring,
  request: RegulationRequest,
  actor: string,
  options: ApplyRegulationOptions = {},
) {
  let erasure: Erasure | undefined;
  const done = await db.transaction(async (tx) => {
    const subject = await resolveSubject(tx, keyring, request, options.defaultPhoneCountry);
    const type = request.regulationType;
    const deletes = (type === 'SUPPRESS_WITH_DELETE' || type === 'DELETE_ONLY') && !!subject.customerId;
    const [regulation] = await tx
      .insert(regulations)
      .values({
        regulationType: request.regulationType,
        customerId: deletes && subject.customerId ? tombstoneOf(keyring, subject.customerId) : subject.customerId,
        identityType: request.identityType ?? null,
        identityHash: request.identityType ? (subject.identities[0]?.hash ?? null) : null,
        status: 'RUNNING',
        actor,
      })
      .returning();
    if (!regulation) throw new Error('regulation was not recorded');

    if (type === 'SUPPRESS' || type === 'SUPPRESS_WITH_DELETE') {
      if (subject.identities.length) {
        await tx
          .insert(suppressions)
          .values(
            subject.identities.map((i) => ({
              identityType: i.type,
              identityHash: i.hash,
              regulationId: regulation.id,
            })),
          )
          .onConflictDoNothing();
      }
    }
    if (type === 'UNSUPPRESS') {
      const bySubject = subject.identities.map((i) =>
        and(eq(suppressions.identityType, i.type), eq(suppressions.identityHash, i.hash)),
      );
      // A deleted customer's earlier regulations name it by its tombstone.
      const named = subject.customerId ? [subject.customerId, tombstoneOf(keyring, subject.customerId)] : [];
      const earlier = named.length
        ? tx.select({ id: regulations.id }).from(regulations).where(inArray(regulations.customerId, named))
        : undefined;
      const conditions = [...bySubject, ...(earlier ? [inArray(suppressions.regulationId, earlier)] : [])];
      if (conditions.length) await tx.delete(suppressions).where(or(...conditions));
    }
    let deleted: Record<string, number> | null = null;
    if (deletes && subject.customerId) {
      const { counts, customerIds } = await deleteCustomerData(tx, subject.customerId);
      deleted = counts;
      const tombstones = tombstonesOf(keyring, customerIds);
      await tx
        .update(regulations)
        .set({
          customerId: sql`(${JSON.stringify(Object.fromEntries(tombstones))}::jsonb ->> ${regulations.customerId}::text)::uuid`,
        })
        .where(inArray(regulations.customerId, customerIds));
      await tombstoneAuditRows(tx, tombstones, { lock: true });
      erasure = { tombstones, tables: erasedTables(counts) };
    }
    // Every collector process hears of it once this commits (they hold the list, and remembered links).
    for (const change of regulationChanges(type)) await announceRevocation(tx, change);
    const [finished] = await tx
      .update(regulations)
      .set({ status: 'FINISHED', finishedAt: new Date(), deleted })
      .where(eq(regulations.id, regulation.id))
      .returning();
    return finished ?? regulation;
  });
  // The deletion is done once committed: a failure of what follows is logged, not answered as a failure.
  if (erasure) {
    await options.afterDeletion?.(erasure).catch((e) => {
      console.error(`after a deletion (audit trail, scrub of the files): ${errorSummary(e)}`);
    });
  }
  return done;
}

/** The tables a deletion wrote to: those it deleted rows from, and the ones it rewrote IDs in. */
function erasedTables(counts: Record<string, number>): string[] {
  const emptied = Object.entries(counts)
    .filter(([, n]) => n > 0)
    .map(([name]) => (name === 'events' ? 'customer_events' : name === 'customers' ? 'customers' : `customer_${name}`));
  return [...new Set([...emptied, 'customers', 'customer_merges', 'regulations', 'audit_log'])];
}

/** What a regulation of this type changes that collector processes keep copies of. */
export function regulationChanges(type: RegulationType): RevocationChange[] {
  switch (type) {
    case 'SUPPRESS':
    case 'UNSUPPRESS':
      return ['suppressions'];
    case 'SUPPRESS_WITH_DELETE':
      return ['suppressions', 'deletion'];
    case 'DELETE_ONLY':
      return ['deletion'];
  }
}

async function resolveSubject(
  tx: Tx,
  keyring: Keyring,
  request: RegulationRequest,
  defaultPhoneCountry?: string,
): Promise<Subject> {
  if (request.customerId) {
    const customer = await requireCustomer(tx, request.customerId).catch((e) => {
      if (request.regulationType === 'UNSUPPRESS') return null;
      throw e;
    });
    if (!customer) return { customerId: request.customerId, identities: [] };
    const identities = await identitiesOfCustomer(tx, customer.id);
    return { customerId: customer.id, identities };
  }
  if (!request.identityType || request.identityValue === undefined) {
    throw badRequest('customerId, or identityType with identityValue, is required', [
      { path: 'json.customerId', message: 'customerId or identityType and identityValue are required' },
    ]);
  }
  const value = normalizeIdentity(request.identityType, request.identityValue, defaultPhoneCountry);
  if (!value) {
    throw badRequest('identityValue is not a valid identifier of that type', [
      { path: 'json.identityValue', message: 'not a valid identifier of that type' },
    ]);
  }
  const owner = await findIdentityOwner(tx, keyring, request.identityType, value);
  if (owner) return { customerId: owner, identities: await identitiesOfCustomer(tx, owner) };
  if (request.regulationType === 'DELETE_ONLY') throw notFound('No customer has that identity');
  return {
    customerId: null,
    identities: [{ type: request.identityType, hash: blindIndex(keyring, request.identityType, value) }],
  };
}

/** Every identity of a customer as (type, blind-index hash) pairs. */
async function identitiesOfCustomer(tx: Tx, customerId: string): Promise<Subject['identities']> {
  const rows = await tx
    .select({ type: customerIdentities.identityType, hash: customerIdentities.valueHash })
    .from(customerIdentities)
    .where(eq(customerIdentities.customerId, customerId));
  return rows.flatMap((r) => (r.hash ? [{ type: r.type, hash: r.hash }] : []));
}

/** Deletes everything of a customer and of the customers merged into it; returns how many rows of each, and whose. */
async function deleteCustomerData(
  tx: Tx,
  customerId: string,
): Promise<{ counts: Record<string, number>; customerIds: string[] }> {
  const [events] = await queryRows<{ n: number }>(
    tx,
    sql`with gone as (delete from customer_events where ${eventsOfCustomer(customerId)} returning 1)
        select count(*)::int as n from gone`,
  );
  const ids = (
    await tx
      .select({ id: customers.id })
      .from(customers)
      .where(or(eq(customers.id, customerId), eq(customers.mergedIntoId, customerId)))
  ).map((r) => r.id);
  const counts: Record<string, number> = { events: events?.n ?? 0 };
  for (const table of [
    'customer_identities',
    'customer_traits',
    'customer_consents',
    'customer_consent_history',
    'customer_segment_memberships',
    'customer_journey_steps',
    'customer_engagement_scores',
    'customer_lifetime_values',
    'customer_profiles',
    'customer_documents',
    'customer_messages',
  ]) {
    const [row] = await queryRows<{ n: number }>(
      tx,
      sql`with gone as (delete from ${sql.identifier(table)} where customer_id in ${uuidList(ids)} returning 1)
          select count(*)::int as n from gone`,
    );
    counts[table.replace(/^customer_/, '')] = row?.n ?? 0;
  }
  await tx
    .delete(customerMerges)
    .where(or(inArray(customerMerges.sourceCustomerId, ids), inArray(customerMerges.targetCustomerId, ids)));
  const gone = await tx.delete(customers).where(inArray(customers.id, ids)).returning({ id: customers.id });
  counts.customers = gone.length;
  return { counts, customerIds: ids };
}
