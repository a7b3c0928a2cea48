import { customers } from '../src/db/schema';
import type { Harness } from './harness';

/** A customer row written straight to the database, for tests of the API that reads it. */
export async function insertCustomer(h: Harness, fields: Partial<typeof customers.$inferInsert> = {}): Promise<string> {
  const [row] = await h.database.db.insert(customers).values(fields).returning({ id: customers.id });
  if (!row) throw new Error('customer was not inserted');
  return row.id;
}

/** A customer made the way production makes them: an identify call, then resolving its userId. */
export async function identifyCustomer(
  h: Harness,
  userId: string,
  body: Record<string, unknown> = {},
): Promise<string> {
  const sent = await h.send('identify', { userId, ...body });
  if (sent.status !== 200) throw new Error(`identify failed: ${sent.status} ${await sent.text()}`);
  const res = await h.call('GET', `/api/v1/cdp/identity/resolve?identityType=EXTERNAL_ID&identityValue=${userId}`);
  if (res.status !== 200) throw new Error(`resolve failed: ${res.status} ${await res.text()}`);
  return ((await res.json()) as { customerId: string }).customerId;
}
