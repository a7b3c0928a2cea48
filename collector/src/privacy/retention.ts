import { sql } from 'drizzle-orm';
import { type Db, queryRows } from '../db/client';
import { retentionPolicies } from '../db/schema';
import { errorSummary } from '../http/errors';

export interface RetentionOptions {
  /** Rows deleted per statement: small enough that no lock is held long enough to stall ingestion. */
  batchSize?: number;
  /** Pause between batches, leaving the database to ingestion. */
  pauseMs?: number;
}

/**
 * Deletes events older than their type's retention, in bounded batches (each its own short
 * statement), so ingestion never waits behind one long delete. Returns the count per event type.
 */
export async function runRetention(db: Db, options: RetentionOptions = {}): Promise<Record<string, number>> {
  const { batchSize, pauseMs } = { batchSize: 5_000, pauseMs: 10, ...options };
  const policies = await db.select().from(retentionPolicies);
  const deleted: Record<string, number> = {};
  for (const { eventType, days } of policies) {
    deleted[eventType] = 0;
    for (;;) {
      const [row] = await queryRows<{ n: number }>(
        db,
        sql`with gone as (
              delete from customer_events where id in (
                select id from customer_events
                where event_type = ${eventType} and timestamp < now() - make_interval(days => ${days})
                limit ${batchSize})
              returning 1)
            select count(*)::int as n from gone`,
      );
      const n = row?.n ?? 0;
      deleted[eventType] += n;
      if (n < batchSize) break;
      await new Promise((r) => setTimeout(r, pauseMs));
    }
  }
  return deleted;
}

/** Runs the retention job every `intervalSeconds`; `stop()` waits for a run in progress. */
export function startRetention(db: Db, intervalSeconds: number) {
  let running: Promise<unknown> | undefined;
  const timer = setInterval(() => {
    running ??= runRetention(db)
      .catch((e) => console.error(`retention run failed: ${errorSummary(e)}`))
      .finally(() => {
        running = undefined;
      });
  }, intervalSeconds * 1000);
  timer.unref();
  return {
    async stop() {
      clearInterval(timer);
      await running;
    },
  };
}
