import { sql } from 'drizzle-orm';

// A list travels as one jsonb parameter whatever its length: PostgreSQL plans one statement for
// every length, and building it costs the same for 1 value or 10,000.

/** Text values, for `x in ${textList(values)}`. */
export const textList = (values: readonly string[]) =>
  sql`(select value from jsonb_array_elements_text(${JSON.stringify(values)}::jsonb))`;

/**
 * Text values as an array, for `x = any(${textArray(values)})` inside an OR: there PostgreSQL cannot
 * turn `x in (select ...)` into a join and checks it row by row over a sequential scan of the table,
 * while `= any(array)` lets each branch of the OR use its index.
 */
export const textArray = (values: readonly string[]) =>
  sql`array(select jsonb_array_elements_text(${JSON.stringify(values)}::jsonb))`;

/** UUIDs, for `id in ${uuidList(ids)}`. */
export const uuidList = (ids: readonly string[]) =>
  sql`(select value::uuid from jsonb_array_elements_text(${JSON.stringify(ids)}::jsonb))`;
