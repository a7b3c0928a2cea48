import type { SegmentRule } from '@tributary/spec';
import { count, eq, sql } from 'drizzle-orm';
import { type Db, queryRows, type Tx } from '../db/client';
import { customerSegmentMemberships, customerSegments } from '../db/schema';
import { uuidList } from '../db/sql-lists';
import { profilingAllowed } from '../privacy/profiling-consent';
import { rfmScores } from './rfm';
import { compileRule } from './segment-rules';
import { toNumber } from './sql-values';

export type SegmentRecord = typeof customerSegments.$inferSelect;

export interface EvaluationResult {
  added: number;
  removed: number;
  memberCount: number;
  evaluatedAt: Date;
}

/**
 * Brings a rule segment's membership in line with its rules: for every customer, or only for
 * `customerIds` (after their data changed). One statement finds the matches, drops members that no
 * longer match and adds new ones. STATIC segments are left alone; RFM segments are always evaluated
 * whole, since a customer's quintile depends on everyone else's.
 */
export async function evaluateSegment(
  db: Db,
  segment: SegmentRecord,
  options: { customerIds?: readonly string[]; now?: Date } = {},
): Promise<EvaluationResult> {
  const now = options.now ?? new Date();
  return db.transaction(async (tx) => {
    let added = 0;
    let removed = 0;
    const rule = segment.rules as SegmentRule | null;
    if (segment.segmentType === 'RFM' && segment.isActive) {
      ({ added, removed } = await evaluateRfm(tx, segment.id, rule?.rfm?.cells, now));
    } else if (segment.segmentType !== 'STATIC' && rule && segment.isActive) {
      const subset = options.customerIds;
      if (subset && !subset.length) return { added, removed, memberCount: segment.memberCount, evaluatedAt: now };
      const only = subset ? sql`and c.id in ${uuidList(subset)}` : sql``;
      const onlyMembers = subset ? sql`and m.customer_id in ${uuidList(subset)}` : sql``;
      const [row] = await queryRows<Record<string, unknown>>(
        tx,
        sql`with matched as (
            select c.id from customers c where c.merged_into_id is null ${only} and ${profilingAllowed(sql`c.id`)}
              and coalesce(${compileRule(rule, now)}, false)
          ), removed as (
            delete from customer_segment_memberships m
            where m.segment_id = ${segment.id} ${onlyMembers} and m.customer_id not in (select id from matched)
            returning 1
          ), added as (
            insert into customer_segment_memberships (segment_id, customer_id, source, added_at)
            select ${segment.id}, id, 'rules', ${now.toISOString()}::timestamptz from matched
            on conflict (segment_id, customer_id) do nothing
            returning 1
          )
          select (select count(*) from added) as added, (select count(*) from removed) as removed`,
      );
      added = toNumber(row?.added);
      removed = toNumber(row?.removed);
    }
    const memberCount = await refreshMemberCount(tx, segment.id, options.customerIds ? undefined : now);
    return { added, removed, memberCount, evaluatedAt: now };
  });
}

/** Recounts members; `evaluatedAt` is set only by a full evaluation. */
export async function refreshMemberCount(db: Db | Tx, segmentId: string, evaluatedAt?: Date): Promise<number> {
  const [row] = await db
    .select({ n: count() })
    .from(customerSegmentMemberships)
    .where(eq(customerSegmentMemberships.segmentId, segmentId));
  const memberCount = row?.n ?? 0;
  await db
    .update(customerSegments)
    .set({ memberCount, ...(evaluatedAt ? { lastEvaluatedAt: evaluatedAt } : {}) })
    .where(eq(customerSegments.id, segmentId));
  return memberCount;
}

/** Members are the buyers in the named cells (all buyers when none are named), their scores in `metadata`. */
async function evaluateRfm(tx: Tx, segmentId: string, cells: readonly string[] | undefined, now: Date) {
  const revoked = new Set(
    (
      await queryRows<{ id: string }>(
        tx,
        sql`select distinct customer_id as id from customer_consents
            where consent_type in ('PERSONALIZATION', 'PROFILING') and granted = false`,
      )
    ).map((r) => r.id),
  );
  const scores = (await rfmScores(tx, now)).filter(
    (s) => (!cells || cells.includes(s.cell)) && !revoked.has(s.customerId),
  );
  const members = scores.map((s) => ({
    customerId: s.customerId,
    metadata: {
      cell: s.cell,
      recency: s.recency,
      frequency: s.frequency,
      monetary: s.monetary,
      lastPurchaseAt: s.lastPurchaseAt?.toISOString() ?? null,
      purchases: s.purchases,
      revenue: s.revenue,
    },
  }));
  const [row] = await queryRows<Record<string, unknown>>(
    tx,
    sql`with incoming as (
        select (value ->> 'customerId')::uuid as customer_id, value -> 'metadata' as metadata
        from jsonb_array_elements(${JSON.stringify(members)}::jsonb)
      ), removed as (
        delete from customer_segment_memberships m
        where m.segment_id = ${segmentId} and m.customer_id not in (select customer_id from incoming)
        returning 1
      ), upserted as (
        insert into customer_segment_memberships (segment_id, customer_id, source, metadata, added_at)
        select ${segmentId}, customer_id, 'rfm', metadata, ${now.toISOString()}::timestamptz from incoming
        on conflict (segment_id, customer_id) do update set metadata = excluded.metadata
        returning (xmax = 0) as inserted
      )
      select (select count(*) from upserted where inserted) as added, (select count(*) from removed) as removed`,
  );
  return { added: toNumber(row?.added), removed: toNumber(row?.removed) };
}
