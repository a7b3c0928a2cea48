import type { RfmCell } from '@tributary/spec';
import { sql } from 'drizzle-orm';
import { type Db, queryRows, type Tx } from '../db/client';
import { eventOwner } from './event-owner';
import { purchaseAmount } from './purchase-amount';
import { toDate, toNumber } from './sql-values';

/**
 * RFM: each buyer gets a 1-5 score for recency (last purchase), frequency (purchases) and monetary
 * value (revenue), by quintile among all buyers (5 = best). Ties share the lower quintile, so when
 * most buyers bought once they all score F = 1 rather than being split at random.
 */
export interface RfmScore {
  customerId: string;
  recency: number;
  frequency: number;
  monetary: number;
  lastPurchaseAt: Date | null;
  purchases: number;
  revenue: number;
  cell: RfmCell;
}

/**
 * The named cell of an R score and the mean of F and M (rounded half up), after the usual R × FM grid:
 *
 *   R \ FM        1               2                    3         4         5
 *   5        new_customers  potential_loyalists     loyal   champions  champions
 *   4        promising      potential_loyalists     loyal   champions  champions
 *   3        about_to_sleep need_attention          loyal     loyal      loyal
 *   2        hibernating    hibernating            at_risk   at_risk  cant_lose_them
 *   1        lost           lost                   at_risk   at_risk  cant_lose_them
 */
export function rfmCell(r: number, f: number, m: number): RfmCell {
  const fm = Math.floor((f + m + 1) / 2);
  if (r >= 4 && fm >= 4) return 'champions';
  if (r >= 3 && fm >= 3) return 'loyal';
  if (r >= 4 && fm === 2) return 'potential_loyalists';
  if (r === 5) return 'new_customers';
  if (r === 4) return 'promising';
  if (r === 3) return fm === 2 ? 'need_attention' : 'about_to_sleep';
  if (fm === 5) return 'cant_lose_them';
  if (fm >= 3) return 'at_risk';
  return r === 2 ? 'hibernating' : 'lost';
}

const quintile = (order: string) => sql.raw(`least(5, 1 + floor(5 * percent_rank() over (order by ${order})))::int`);

/** RFM scores of every buyer, in one query over the PURCHASE events. */
export async function rfmScores(db: Db | Tx, now: Date): Promise<RfmScore[]> {
  const rows = await queryRows<Record<string, unknown>>(
    db,
    sql`with purchases as (
        select ${eventOwner} as owner, e.timestamp as ts, ${purchaseAmount(sql.raw('e.properties'))} as amount
        from customer_events e where e.event_type = 'PURCHASE' and e.timestamp <= ${now.toISOString()}::timestamptz
      ), buyers as (
        select owner, max(ts) as last_purchase, count(*) as purchases, coalesce(sum(amount), 0) as revenue
        from purchases where owner is not null group by owner
      )
      select owner, last_purchase, purchases, revenue,
        ${quintile('last_purchase')} as r, ${quintile('purchases')} as f, ${quintile('revenue')} as m
      from buyers`,
  );
  return rows.map((row) => {
    const [r, f, m] = [toNumber(row.r), toNumber(row.f), toNumber(row.m)];
    return {
      customerId: String(row.owner),
      recency: r,
      frequency: f,
      monetary: m,
      lastPurchaseAt: toDate(row.last_purchase),
      purchases: toNumber(row.purchases),
      revenue: toNumber(row.revenue),
      cell: rfmCell(r, f, m),
    };
  });
}
