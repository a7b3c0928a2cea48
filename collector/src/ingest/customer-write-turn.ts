import { sql } from 'drizzle-orm';
import type { Tx } from '../db/client';

/** Advisory lock key of the flush sections that write customers' rows ("trib" in ASCII). */
const CUSTOMER_WRITES_LOCK = 0x74726962;

/**
 * Flushes that write customers' rows (identity linking, consent carried by events) take turns, until
 * their transaction ends. Two flushes in flight at once (and other collectors) then never create two
 * customers for one new userId, nor lock the same customers in opposite orders and deadlock.
 */
export async function takeCustomerWriteTurn(tx: Tx): Promise<void> {
  await tx.execute(sql`select pg_advisory_xact_lock(${CUSTOMER_WRITES_LOCK})`);
}
