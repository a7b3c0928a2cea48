import { type SQL, sql } from 'drizzle-orm';

// Numbers sent as strings ("49.90") count too; anything else is not an amount.
const NUMERIC = '^\\s*-?[0-9]+(\\.[0-9]+)?\\s*$';

const numberAt = (props: SQL, key: string) => sql`(case
  when jsonb_typeof(${props} -> ${key}::text) = 'number' then (${props} ->> ${key}::text)::float8
  when jsonb_typeof(${props} -> ${key}::text) = 'string' and ${props} ->> ${key}::text ~ ${NUMERIC} then (${props} ->> ${key}::text)::float8
end)`;

/**
 * The amount of a PURCHASE event, from its properties: `revenue`, else `value`, else `total`, else
 * `price × quantity` (quantity 1 when absent). Null when none of them is a number.
 */
export function purchaseAmount(props: SQL = sql.raw('properties')): SQL {
  return sql`coalesce(${numberAt(props, 'revenue')}, ${numberAt(props, 'value')}, ${numberAt(props, 'total')},
    ${numberAt(props, 'price')} * coalesce(${numberAt(props, 'quantity')}, 1))`;
}
