import { sql } from 'drizzle-orm';
import { ADVISORY_LOCKS } from '../db/advisory-locks';
import type { Tx } from '../db/client';

/**
 * Flushes that write customers' rows (identity linking, consent carried by events) take turns, until
 * their transaction ends. Two flushes in flight at once (and other collectors) then never create two
 * customers for one new userId, nor lock the same customers in opposite orders and deadlock.
 */
export async function takeCustomerWriteTurn(tx: Tx): Promise<void> {
  // The key inline: a statement without parameters takes one round trip, not two.
  await tx.execute(sql.raw(`select pg_advisory_xact_lock(${ADVISORY_LOCKS.customerWrites})`));
}
