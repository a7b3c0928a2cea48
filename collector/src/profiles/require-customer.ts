import { eq } from 'drizzle-orm';
import type { Db, Tx } from '../db/client';
import { customers } from '../db/schema';
import { notFound } from '../http/errors';

export type CustomerRecord = typeof customers.$inferSelect;

/**
 * The customer an ID names, following a merge to the customer it became (`mergedFrom` says so).
 * Unknown IDs are a 404.
 */
export async function requireCustomer(db: Db | Tx, id: string): Promise<CustomerRecord & { mergedFrom?: string }> {
  const [row] = await db.select().from(customers).where(eq(customers.id, id)).limit(1);
  if (!row) throw notFound(`Customer ${id} was not found`);
  if (!row.mergedIntoId) return row;
  const [target] = await db.select().from(customers).where(eq(customers.id, row.mergedIntoId)).limit(1);
  if (!target) throw notFound(`Customer ${id} was merged into ${row.mergedIntoId}, which was not found`);
  return { ...target, mergedFrom: id };
}
