import type { EngagementScore } from '@tributary/spec';
import { sql } from 'drizzle-orm';
import type { Db } from '../db/client';
import { queryRows } from '../db/client';
import { customerEngagementScores } from '../db/schema';
import { eventsOfCustomer } from '../events/customer-events';
import { purchaseAmount } from './purchase-amount';
import { toDate, toNumber } from './sql-values';

/**
 * The engagement score, each dimension 0-100 (documented in the README):
 *
 *   recency    R = 100 · 2^(−d / 30), d = days since the last event (0 with no event in a year)
 *   frequency  F = 100 · (1 − e^(−D / 10)), D = distinct active days in the last 90 days
 *   monetary   M = min(100, 25 · log10(1 + revenue of the last 365 days))
 *   channel    C = 100 · (1 − e^(−w / k)), w = Σ 2^(−age / 30) over the channel's events of the last
 *              90 days (each event weighs half as much every 30 days), k = 3 email, 10 web, 5 portal
 *   overall    0.25 R + 0.25 F + 0.15 M + 0.35 · max(email, web, portal)
 *
 * Channels: email = MESSAGE_READ, events whose campaign medium is "email" or whose name starts with
 * "Email"; portal = LOGIN, LOGOUT, DOCUMENT_*, MESSAGE_SENT, PROFILE_UPDATE, POLICY_VIEW, CLAIM_SUBMIT;
 * web = everything else. identify, alias and group calls are bookkeeping, not engagement.
 */
export const ENGAGEMENT = {
  halfLifeDays: 30,
  frequencyWindowDays: 90,
  frequencyScaleDays: 10,
  monetaryWindowDays: 365,
  channelScale: { email: 3, web: 10, portal: 5 },
  weights: { recency: 0.25, frequency: 0.25, monetary: 0.15, channel: 0.35 },
} as const;

export interface EngagementInputs {
  daysSinceLastEvent: number | null;
  activeDays: number;
  revenue: number;
  emailWeight: number;
  webWeight: number;
  portalWeight: number;
}

const PORTAL_TYPES = [
  'LOGIN',
  'LOGOUT',
  'DOCUMENT_UPLOAD',
  'DOCUMENT_VIEW',
  'MESSAGE_SENT',
  'PROFILE_UPDATE',
  'POLICY_VIEW',
  'CLAIM_SUBMIT',
];

const round = (v: number) => Math.round(v * 100) / 100;
const saturate = (v: number, scale: number) => 100 * (1 - Math.exp(-v / scale));

/** The formula, apart from the database, so tests can check it on known inputs. */
export function engagementFromInputs(i: EngagementInputs): Omit<EngagementScore, 'computedAt'> {
  const recency =
    i.daysSinceLastEvent === null ? 0 : 100 * 2 ** (-Math.max(0, i.daysSinceLastEvent) / ENGAGEMENT.halfLifeDays);
  const frequency = saturate(i.activeDays, ENGAGEMENT.frequencyScaleDays);
  const monetary = Math.min(100, 25 * Math.log10(1 + Math.max(0, i.revenue)));
  const email = saturate(i.emailWeight, ENGAGEMENT.channelScale.email);
  const web = saturate(i.webWeight, ENGAGEMENT.channelScale.web);
  const portal = saturate(i.portalWeight, ENGAGEMENT.channelScale.portal);
  const w = ENGAGEMENT.weights;
  const overall =
    w.recency * recency + w.frequency * frequency + w.monetary * monetary + w.channel * Math.max(email, web, portal);
  return {
    overallScore: round(overall),
    emailScore: round(email),
    webScore: round(web),
    portalScore: round(portal),
    recencyScore: round(recency),
    frequencyScore: round(frequency),
    monetaryScore: round(monetary),
  };
}

/** The formula's inputs in one aggregate over the customer's events of the last year. */
export async function engagementInputs(db: Db, customerId: string, now: Date): Promise<EngagementInputs> {
  const since = new Date(now.getTime() - ENGAGEMENT.monetaryWindowDays * 86_400_000);
  const recent = new Date(now.getTime() - ENGAGEMENT.frequencyWindowDays * 86_400_000);
  const ageDays = sql`greatest(0, extract(epoch from (${now.toISOString()}::timestamptz - timestamp)) / 86400)`;
  const decay = sql`power(2, -${ageDays} / ${ENGAGEMENT.halfLifeDays})`;
  const channel = sql`(case
    when event_type = 'MESSAGE_READ' or lower(context #>> '{campaign,medium}') = 'email' or event_name ilike 'email%' then 'email'
    when event_type in (${sql.join(
      PORTAL_TYPES.map((t) => sql`${t}`),
      sql`, `,
    )}) then 'portal'
    else 'web' end)`;
  const inWindow = sql`timestamp > ${recent.toISOString()}::timestamptz`;
  const [row] = await queryRows<Record<string, unknown>>(
    db,
    sql`select
      max(timestamp) as last_event_at,
      count(distinct (timestamp at time zone 'UTC')::date) filter (where ${inWindow}) as active_days,
      coalesce(sum(${purchaseAmount()}) filter (where event_type = 'PURCHASE'), 0) as revenue,
      coalesce(sum(${decay}) filter (where ${inWindow} and ${channel} = 'email'), 0) as email_weight,
      coalesce(sum(${decay}) filter (where ${inWindow} and ${channel} = 'web'), 0) as web_weight,
      coalesce(sum(${decay}) filter (where ${inWindow} and ${channel} = 'portal'), 0) as portal_weight
    from customer_events
    where ${eventsOfCustomer(customerId)}
      and timestamp > ${since.toISOString()}::timestamptz and timestamp <= ${now.toISOString()}::timestamptz
      and call_type not in ('identify', 'alias', 'group')`,
  );
  const last = toDate(row?.last_event_at);
  return {
    daysSinceLastEvent: last ? (now.getTime() - last.getTime()) / 86_400_000 : null,
    activeDays: toNumber(row?.active_days),
    revenue: toNumber(row?.revenue),
    emailWeight: toNumber(row?.email_weight),
    webWeight: toNumber(row?.web_weight),
    portalWeight: toNumber(row?.portal_weight),
  };
}

/** Computes and stores a customer's engagement score. */
export async function computeEngagementScore(
  db: Db,
  customerId: string,
  now = new Date(),
): Promise<{ score: EngagementScore; inputs: EngagementInputs }> {
  const inputs = await engagementInputs(db, customerId, now);
  const scores = engagementFromInputs(inputs);
  await db
    .insert(customerEngagementScores)
    .values({ customerId, ...scores, computedAt: now })
    .onConflictDoUpdate({ target: customerEngagementScores.customerId, set: { ...scores, computedAt: now } });
  return { score: { ...scores, computedAt: now.toISOString() }, inputs };
}

export function toEngagementResponse(row: typeof customerEngagementScores.$inferSelect): EngagementScore {
  const { customerId: _, computedAt, ...scores } = row;
  return { ...scores, computedAt: computedAt.toISOString() };
}
