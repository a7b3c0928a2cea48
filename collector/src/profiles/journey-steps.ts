import type { JourneyStep } from '@tributary/spec';
import { desc, eq, sql } from 'drizzle-orm';
import type { Db } from '../db/client';
import { customerJourneySteps } from '../db/schema';
import { eventsOfCustomer } from '../events/customer-events';

/**
 * Journey milestones derived from events. Milestones that happen once in a meaningful way are kept at
 * their first occurrence (first visit, identified, login, quote viewed, policy viewed, document
 * uploaded); business events are kept each time, the latest 50 of each (quote requested, purchase,
 * claim submitted). Every step names the event that marked it.
 */
const STEPS = {
  IDENTIFIED: { name: 'Identified', every: false },
  LOGIN: { name: 'First login', every: false },
  QUOTE_REQUESTED: { name: 'Quote requested', every: true },
  QUOTE_VIEWED: { name: 'Quote viewed', every: false },
  PURCHASE: { name: 'Purchase', every: true },
  POLICY_VIEWED: { name: 'Policy viewed', every: false },
  DOCUMENT_UPLOADED: { name: 'Document uploaded', every: false },
  CLAIM_SUBMITTED: { name: 'Claim submitted', every: true },
} as const;
const EVERY_LIMIT = 50;

const stepOf = sql`(case
  when call_type = 'identify' then 'IDENTIFIED'
  when event_type = 'LOGIN' then 'LOGIN'
  when event_type = 'QUOTE_REQUEST' then 'QUOTE_REQUESTED'
  when event_type = 'QUOTE_VIEW' then 'QUOTE_VIEWED'
  when event_type = 'PURCHASE' then 'PURCHASE'
  when event_type = 'POLICY_VIEW' then 'POLICY_VIEWED'
  when event_type = 'DOCUMENT_UPLOAD' then 'DOCUMENT_UPLOADED'
  when event_type = 'CLAIM_SUBMIT' then 'CLAIM_SUBMITTED'
end)`;

const list = (values: string[]) =>
  sql.join(
    values.map((v) => sql`${v}`),
    sql`, `,
  );
const entries = Object.entries(STEPS);
const firstOnly = entries.filter(([, s]) => !s.every).map(([k]) => k);
const every = entries.filter(([, s]) => s.every).map(([k]) => k);
const nameOf = sql`(case step ${sql.join(
  entries.map(([k, s]) => sql`when ${k} then ${s.name}`),
  sql` `,
)} end)`;

/** Rebuilds a customer's journey from their events (one statement after the delete, in one transaction). */
export async function computeJourneySteps(db: Db, customerId: string): Promise<void> {
  await db.transaction(async (tx) => {
    await tx.delete(customerJourneySteps).where(eq(customerJourneySteps.customerId, customerId));
    await tx.execute(sql`
      with ev as (
        select id, message_id, timestamp, event_type, event_name, ${stepOf} as step
        from customer_events where ${eventsOfCustomer(customerId)}
      ), first_visit as (
        select 'FIRST_VISIT'::text as step, id, message_id, timestamp, event_type, event_name
        from ev order by timestamp, id limit 1
      ), firsts as (
        select distinct on (step) step, id, message_id, timestamp, event_type, event_name
        from ev where step in (${list(firstOnly)}) order by step, timestamp, id
      ), everies as (
        select step, id, message_id, timestamp, event_type, event_name from (
          select ev.*, row_number() over (partition by step order by timestamp desc, id desc) as n
          from ev where step in (${list(every)})
        ) ranked where n <= ${EVERY_LIMIT}
      ), steps as (
        select * from first_visit union all select * from firsts union all select * from everies
      )
      insert into customer_journey_steps (customer_id, step_type, step_name, event_id, event_message_id, occurred_at, metadata)
      select ${customerId}, step,
        case when step = 'FIRST_VISIT' then 'First visit' else ${nameOf} end,
        id, message_id, timestamp,
        jsonb_build_object('eventType', event_type, 'eventName', event_name)
      from steps
      on conflict (customer_id, step_type, event_message_id) do nothing`);
  });
}

/** The steps shown in the 360 view: the latest 200, in time order. */
export async function journeyStepsQuery(db: Db, customerId: string) {
  const rows = await db
    .select()
    .from(customerJourneySteps)
    .where(eq(customerJourneySteps.customerId, customerId))
    .orderBy(desc(customerJourneySteps.occurredAt), desc(customerJourneySteps.eventId))
    .limit(200);
  return rows.reverse();
}

export function toJourneyStepResponse(row: typeof customerJourneySteps.$inferSelect): JourneyStep {
  return {
    stepType: row.stepType as JourneyStep['stepType'],
    stepName: row.stepName,
    occurredAt: row.occurredAt.toISOString(),
    eventId: row.eventId === null ? null : String(row.eventId),
    eventMessageId: row.eventMessageId,
    metadata: row.metadata,
  };
}
