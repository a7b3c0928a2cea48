import type { SegmentRule } from '@tributary/spec';
import { type SQL, sql } from 'drizzle-orm';
import { eventsOfCustomer } from '../events/customer-events';
import { badRequest } from '../http/errors';

type Scalar = string | number | boolean;
interface Comparison {
  operator: 'equals' | 'in' | 'gt' | 'gte' | 'lt' | 'lte' | 'exists' | 'contains';
  value?: Scalar | Scalar[] | undefined;
}

const ORDER = { gt: '>', gte: '>=', lt: '<', lte: '<=', equals: '=' } as const;
const NUMERIC = '^\\s*-?[0-9]+(\\.[0-9]+)?\\s*$';

const SCORE_COLUMNS = {
  overall: 'overall_score',
  email: 'email_score',
  web: 'web_score',
  portal: 'portal_score',
  recency: 'recency_score',
  frequency: 'frequency_score',
  monetary: 'monetary_score',
} as const;

const LTV_COLUMNS = {
  currentValue: 'current_value',
  predictedValue: 'predicted_value',
  totalPurchases: 'total_purchases',
  averagePurchaseValue: 'average_purchase_value',
  purchaseFrequency: 'purchase_frequency',
  customerTenure: 'customer_tenure',
  churnProbability: 'churn_probability',
} as const;

/** A jsonb value (a trait's, an event property's) compared as a rule says. */
function compareJson(v: SQL, c: Comparison): SQL {
  const text = sql`(${v} #>> '{}')`;
  switch (c.operator) {
    case 'exists':
      return sql`(${v} is not null and ${v} <> 'null'::jsonb)`;
    case 'equals':
      return sql`(${v} = ${JSON.stringify(c.value)}::jsonb)`;
    case 'in':
      return sql`(${JSON.stringify(c.value)}::jsonb @> jsonb_build_array(${v}))`;
    case 'contains':
      return sql`((jsonb_typeof(${v}) = 'string' and strpos(lower(${text}), lower(${String(c.value)})) > 0)
        or (jsonb_typeof(${v}) = 'array' and ${v} @> jsonb_build_array(${JSON.stringify(c.value)}::jsonb)))`;
    default: {
      const op = sql.raw(ORDER[c.operator]);
      // Numbers compare as numbers (numeric strings too); strings, such as ISO dates, as text.
      if (typeof c.value === 'number')
        return sql`((jsonb_typeof(${v}) = 'number' or (jsonb_typeof(${v}) = 'string' and ${text} ~ ${NUMERIC}))
          and ${text}::float8 ${op} ${c.value})`;
      return sql`(jsonb_typeof(${v}) = 'string' and ${text} ${op} ${String(c.value)})`;
    }
  }
}

const numeric = (column: SQL, c: { operator: keyof typeof ORDER; value: number }) =>
  sql`${column} ${sql.raw(ORDER[c.operator])} ${c.value}`;

/**
 * Compiles a rule to one SQL condition on the customer `c` (an alias of `customers` in the calling
 * query), so a segment is evaluated over every customer, or a few, with a single statement.
 * Conditions on events count the customer's events through its identities, as everywhere else.
 * `now` fixes "within the last N days" and expiry checks for the whole evaluation.
 */
export function compileRule(rule: SegmentRule, now: Date, customer: SQL = sql.raw('c.id')): SQL {
  const at = sql`${now.toISOString()}::timestamptz`;
  const recurse = (r: SegmentRule) => compileRule(r, now, customer);
  if (rule.and) return sql`(${sql.join(rule.and.map(recurse), sql` and `)})`;
  if (rule.or) return sql`(${sql.join(rule.or.map(recurse), sql` or `)})`;
  if (rule.not) return sql`(not coalesce(${recurse(rule.not)}, false))`;
  if (rule.trait) {
    const t = rule.trait;
    return sql`exists (select 1 from customer_traits t where t.customer_id = ${customer} and t.trait_key = ${t.key}
      and (t.expires_at is null or t.expires_at > ${at}) and ${compareJson(sql.raw('t.trait_value'), t)})`;
  }
  if (rule.event) {
    const e = rule.event;
    const where: SQL[] = [eventsOfCustomer(customer)];
    if (e.eventType) where.push(sql`event_type = ${e.eventType}`);
    if (e.eventName) where.push(sql`event_name = ${e.eventName}`);
    if (e.withinDays) where.push(sql`timestamp > ${at} - make_interval(days => ${e.withinDays})`);
    for (const p of e.properties ?? []) where.push(compareJson(sql`(properties #> string_to_array(${p.key}, '.'))`, p));
    const condition = sql.join(where, sql` and `);
    const count = e.count ?? { operator: 'gte' as const, value: 1 };
    // "At least once" is the common case: exists stops at the first event.
    if (count.operator === 'gte' && count.value === 1)
      return sql`exists (select 1 from customer_events where ${condition})`;
    return numeric(sql`(select count(*) from customer_events where ${condition})`, count);
  }
  if (rule.score) {
    const column = sql.raw(`s.${SCORE_COLUMNS[rule.score.dimension]}`);
    return sql`exists (select 1 from customer_engagement_scores s where s.customer_id = ${customer} and ${numeric(column, rule.score)})`;
  }
  if (rule.lifetimeValue || rule.churnProbability) {
    const c = rule.lifetimeValue ?? { field: 'churnProbability' as const, ...rule.churnProbability };
    if (c.operator === undefined || c.value === undefined)
      throw badRequest('churnProbability needs operator and value');
    const column = sql.raw(`l.${LTV_COLUMNS[c.field]}`);
    return sql`exists (select 1 from customer_lifetime_values l where l.customer_id = ${customer}
      and ${numeric(column, { operator: c.operator, value: c.value })})`;
  }
  if (rule.consent) {
    const k = rule.consent;
    const granted = sql`exists (select 1 from customer_consents k where k.customer_id = ${customer}
      and k.consent_type = ${k.consentType} and k.granted and (k.expires_at is null or k.expires_at > ${at}))`;
    return k.granted ? granted : sql`(not ${granted})`;
  }
  if (rule.rfm) throw badRequest('An rfm rule stands alone, as the rules of an RFM segment');
  throw badRequest('A rule has no condition');
}

/** Whether a rule contains an rfm condition anywhere (only valid as an RFM segment's whole rule). */
export function hasRfm(rule: SegmentRule): boolean {
  if (rule.rfm) return true;
  return [...(rule.and ?? []), ...(rule.or ?? []), ...(rule.not ? [rule.not] : [])].some(hasRfm);
}
