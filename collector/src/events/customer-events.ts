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
  // `= any(array(...))` rather than `in (...)`: each array is computed once and the three conditions
  // become a BitmapOr over the three indexes. With `in`, PostgreSQL cannot use the indexes under the
  // OR and scans the whole table (155 ms instead of 3 ms at 1,000,000 events).
  return sql`(
    ${e.customerId} = any(array(select id from customers where id = ${customerId} or merged_into_id = ${customerId}))
    or ${e.anonymousId} = any(array(select identity_value from customer_identities where customer_id = ${customerId} and identity_type = 'COOKIE_ID'))
    or ${e.userId} = any(array(select identity_value from customer_identities where customer_id = ${customerId} and identity_type = 'EXTERNAL_ID'))
  )`;
}
