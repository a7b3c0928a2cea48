import { type SQL, sql } from 'drizzle-orm';

/**
 * The customer an event belongs to, for queries over the whole population (the per-customer
 * direction is `eventsOfCustomer`): its customerId (followed through a merge), else the owner of its
 * userId, else the owner of its anonymous ID. Identities move on merge, so their owner is current.
 * `e` is the alias of customer_events in the calling query.
 */
export const eventOwner: SQL = sql`coalesce(
  (select coalesce(oc.merged_into_id, oc.id) from customers oc where oc.id = e.customer_id),
  (select oi.customer_id from customer_identities oi where oi.identity_type = 'EXTERNAL_ID' and oi.identity_value = e.user_id),
  (select oa.customer_id from customer_identities oa where oa.identity_type = 'COOKIE_ID' and oa.identity_value = e.anonymous_id)
)`;
