import { eq } from 'drizzle-orm';
import type { Tx } from '../db/client';
import { customers } from '../db/schema';
import { conflict } from '../http/errors';
import { type CustomerRecord, requireCustomer } from './require-customer';

/**
 * `requireCustomer` that also locks the customer's row until the transaction ends, so changes that keep
 * a per-customer rule (one primary identity per type, consent history in order) never interleave with
 * each other or with a merge.
 */
export async function lockCustomer(tx: Tx, id: string): Promise<CustomerRecord & { mergedFrom?: string }> {
  const customer = await requireCustomer(tx, id);
  const [locked] = await tx
    .select({ mergedIntoId: customers.mergedIntoId })
    .from(customers)
    .where(eq(customers.id, customer.id))
    .for('update');
  // A merge that committed between the read and the lock: rare, and the caller can simply retry.
  if (locked?.mergedIntoId)
    throw conflict(`Customer ${customer.id} was just merged into ${locked.mergedIntoId}; retry the request`);
  return customer;
}
