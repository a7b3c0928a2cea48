import type { EventType } from '@tributary/spec';
import { and, eq } from 'drizzle-orm';
import { customerEvents, customerIdentities } from '../src/db/schema';
import type { Harness } from './harness';

let seq = 0;
/** A name unique to this run, so tests sharing a database do not collide. */
export const unique = (prefix: string) => `${prefix}-${Date.now().toString(36)}-${++seq}`;

export const daysAgo = (days: number, from = new Date()) => new Date(from.getTime() - days * 86_400_000);

/** A customer made the way production makes them: an identify call through the tracking API. */
export async function newCustomer(h: Harness, traits: Record<string, unknown> = {}) {
  const userId = unique('user');
  const anonymousId = unique('anon');
  const res = await h.send('identify', { userId, anonymousId, traits });
  if (res.status !== 200) throw new Error(`identify failed: ${res.status} ${await res.text()}`);
  const [row] = await h.database.db
    .select({ customerId: customerIdentities.customerId })
    .from(customerIdentities)
    .where(and(eq(customerIdentities.identityType, 'EXTERNAL_ID'), eq(customerIdentities.identityValue, userId)));
  if (!row) throw new Error('identify made no customer');
  return { id: row.customerId, userId, anonymousId };
}

/** An event of a customer at a given time, stored directly (past timestamps, many at once). */
export async function addEvent(
  h: Harness,
  who: { anonymousId?: string; customerId?: string },
  e: {
    type: EventType;
    name?: string;
    at?: Date;
    properties?: Record<string, unknown>;
    context?: Record<string, unknown>;
  },
) {
  const messageId = unique('msg');
  const at = e.at ?? new Date();
  const [row] = await h.database.db
    .insert(customerEvents)
    .values({
      messageId,
      customerId: who.customerId ?? null,
      anonymousId: who.anonymousId ?? null,
      callType: 'track',
      eventType: e.type,
      eventName: e.name ?? e.type,
      properties: e.properties ?? {},
      context: e.context ?? {},
      timestamp: at,
      receivedAt: new Date(),
    })
    .returning({ id: customerEvents.id });
  return { messageId, id: row?.id };
}
