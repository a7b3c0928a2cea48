import { sql } from 'drizzle-orm';
import { type Db, queryRows } from '../db/client';
import { errorSummary } from '../http/errors';

export interface TraitCleanupOptions {
  /** Rows deleted per statement: small enough that no statement holds locks for long. */
  batchSize?: number;
  /** Statements per run, so one run never takes over the database after a long pause. */
  maxBatches?: number;
}

/**
 * Deletes expired traits in bounded batches (they are already invisible to readers) and returns how
 * many it deleted. Uses the partial index on `expires_at`.
 */
export async function deleteExpiredTraits(db: Db, options: TraitCleanupOptions = {}): Promise<number> {
  const { batchSize, maxBatches } = {
    batchSize: 1_000,
    maxBatches: 100,
    ...options,
  } satisfies Required<TraitCleanupOptions>;
  let deleted = 0;
  for (let i = 0; i < maxBatches; i++) {
    const rows = await queryRows<{ id: string }>(
      db,
      sql`delete from customer_traits where id in (
        select id from customer_traits where expires_at is not null and expires_at <= now() limit ${batchSize}
      ) returning id`,
    );
    deleted += rows.length;
    if (rows.length < batchSize) break;
  }
  return deleted;
}

export interface TraitCleanupJob {
  stop(): Promise<void>;
}

/**
 * Runs `deleteExpiredTraits` every `intervalMs` for the life of the collector process. Runs never overlap,
 * and a failure (the database restarting, say) is logged and retried at the next tick.
 */
export function startTraitCleanup(
  db: Db,
  options: TraitCleanupOptions & { intervalMs?: number } = {},
): TraitCleanupJob {
  const { intervalMs, ...batches } = { intervalMs: 60_000, ...options };
  let running: Promise<unknown> | null = null;
  const tick = () => {
    if (running) return;
    running = deleteExpiredTraits(db, batches)
      .catch((e: unknown) => console.error(`expired trait cleanup failed: ${errorSummary(e)}`))
      .finally(() => {
        running = null;
      });
  };
  const timer = setInterval(tick, intervalMs);
  // The cleanup alone must not keep the process alive.
  timer.unref();
  return {
    async stop() {
      clearInterval(timer);
      await running;
    },
  };
}
