import { count, eq } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { insertCustomer } from '../../test/customers';
import { testDatabases } from '../../test/databases';
import { useApp } from '../../test/harness';
import { customerTraits } from '../db/schema';
import { deleteExpiredTraits, startTraitCleanup } from './trait-cleanup';

describe.each(testDatabases)('expired trait cleanup on $name', (db) => {
  const h = useApp(db);

  async function seed(expired: number, live: number) {
    const customerId = await insertCustomer(h);
    const past = new Date(Date.now() - 60_000);
    const future = new Date(Date.now() + 3_600_000);
    await h.database.db.insert(customerTraits).values([
      ...Array.from({ length: expired }, (_, i) => ({
        customerId,
        traitKey: `old_${i}`,
        traitValue: i,
        traitType: 'COMPUTED' as const,
        expiresAt: past,
      })),
      ...Array.from({ length: live }, (_, i) => ({
        customerId,
        traitKey: `live_${i}`,
        traitValue: i,
        traitType: 'COMPUTED' as const,
        expiresAt: i % 2 ? future : null,
      })),
    ]);
    return customerId;
  }
  const remaining = async (customerId: string) =>
    (
      await h.database.db.select({ n: count() }).from(customerTraits).where(eq(customerTraits.customerId, customerId))
    )[0]?.n;

  it('deletes expired traits in bounded batches and leaves live ones', async () => {
    const id = await seed(25, 4);
    // Two batches of 10: a run stops at its bound, the next run finishes the job.
    expect(await deleteExpiredTraits(h.database.db, { batchSize: 10, maxBatches: 2 })).toBe(20);
    expect(await remaining(id)).toBe(9);
    expect(await deleteExpiredTraits(h.database.db, { batchSize: 10 })).toBe(5);
    expect(await remaining(id)).toBe(4);
    expect(await deleteExpiredTraits(h.database.db)).toBe(0);
  });

  it('runs periodically once started, until stopped', async () => {
    const id = await seed(3, 1);
    const job = startTraitCleanup(h.database.db, { intervalMs: 20 });
    try {
      await expect.poll(() => remaining(id), { timeout: 5_000, interval: 20 }).toBe(1);
    } finally {
      await job.stop();
    }
    const later = await seed(2, 0);
    await new Promise((r) => setTimeout(r, 100));
    expect(await remaining(later)).toBe(2);
  });
});
