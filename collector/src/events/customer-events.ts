import { type SQL, sql } from 'drizzle-orm';
import { customerEvents } from '../db/schema';

/**
 * The condition that selects a customer's events: sent with its customerId (or that of a customer
 * merged into it), or with one of its anonymous IDs or userIds. Stitching only adds identities, so
 * this stays as cheap for a history of 100,000 events as for 10. `customerId` may be a column
 * (segment rules correlate it with `customers`).
 */
export function eventsOfCustomer(customerId: string | SQL): SQL {
  const e = customerEvents;
  return sql`(
    ${e.customerId} in (select id from customers where id = ${customerId} or merged_into_id = ${customerId})
    or ${e.anonymousId} in (select identity_value from customer_identities where customer_id = ${customerId} and identity_type = 'COOKIE_ID')
    or ${e.userId} in (select identity_value from customer_identities where customer_id = ${customerId} and identity_type = 'EXTERNAL_ID')
  )`;
}
