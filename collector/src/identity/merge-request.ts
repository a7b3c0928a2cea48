import type { MergeCustomersBody } from '@tributary/spec';
import { asc, eq, inArray } from 'drizzle-orm';
import type { Db } from '../db/client';
import { type customerMerges, customers } from '../db/schema';
import { conflict, notFound } from '../http/errors';
import type { CustomerRecord } from '../profiles/require-customer';
import { mergeCustomers } from './merge-customers';

export type MergeRecord = typeof customerMerges.$inferSelect;

/**
 * A merge asked for through the API: both customers must exist and be live (a customer merged away is
 * only a pointer), and differ. Runs in one transaction with both rows locked, so two merges of the same
 * customers cannot interleave; `actor` is recorded with the merge.
 */
export async function mergeOnRequest(
  db: Db,
  { sourceCustomerId, targetCustomerId, mergeStrategy }: MergeCustomersBody,
  actor: string,
): Promise<{ merge: MergeRecord; customer: CustomerRecord }> {
  if (sourceCustomerId === targetCustomerId) throw conflict('A customer cannot be merged into itself');
  return db.transaction(async (tx) => {
    // Locked in ID order, so concurrent merges of the same pair cannot deadlock.
    const rows = await tx
      .select({ id: customers.id, mergedIntoId: customers.mergedIntoId })
      .from(customers)
      .where(inArray(customers.id, [sourceCustomerId, targetCustomerId]))
      .orderBy(asc(customers.id))
      .for('update');
    for (const [role, id] of [
      ['source', sourceCustomerId],
      ['target', targetCustomerId],
    ] as const) {
      const row = rows.find((r) => r.id === id);
      if (!row) throw notFound(`The ${role} customer ${id} was not found`);
      if (row.mergedIntoId)
        throw conflict(`The ${role} customer ${id} was already merged into ${row.mergedIntoId}; use that customer`);
    }
    const merge = await mergeCustomers(tx, sourceCustomerId, targetCustomerId, mergeStrategy, actor);
    const [customer] = await tx.select().from(customers).where(eq(customers.id, targetCustomerId));
    if (!customer) throw new Error('the target customer vanished during the merge');
    return { merge, customer };
  });
}
