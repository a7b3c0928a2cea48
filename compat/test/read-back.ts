import type { RunningCollector } from '@tributary/collector/test/start-collector';
import type { CdpEvent, CdpIdentity, CdpTrait, Customer360 } from '../../packages/spec/src/index';

/** What the CDP API answers about one customer. */
export interface CustomerReadBack {
  customerId: string;
  /** `GET /events?customerId=`: every event found through the customer's identities, newest first. */
  events: CdpEvent[];
  identities: CdpIdentity[];
  traits: CdpTrait[];
  view: Customer360;
}

const cdp = '/api/v1/cdp';

/**
 * Reads back through the CDP API (with the API key) the customer a userId names, once at least
 * `events` of its events are stored. Clients deliver in the background, so it asks again every 100 ms;
 * after `timeoutMs` it answers what there is (the test's assertions then show what is missing), or
 * throws when no customer has that userId at all.
 *
 * @example
 * const { customerId, events, traits } = await readBackCustomer(collector, 'user-1', { events: 5 });
 */
export async function readBackCustomer(
  collector: RunningCollector,
  userId: string,
  { events: expected, timeoutMs = 10_000 }: { events: number; timeoutMs?: number },
): Promise<CustomerReadBack> {
  const deadline = Date.now() + timeoutMs;
  const resolve = `${cdp}/identity/resolve?identityType=EXTERNAL_ID&identityValue=${encodeURIComponent(userId)}`;
  for (;;) {
    const customerId = await collector
      .api<{ customerId: string }>(resolve)
      .then((found) => found.customerId)
      .catch(() => null);
    const events = customerId
      ? (await collector.api<{ events: CdpEvent[] }>(`${cdp}/events?customerId=${customerId}&limit=500`)).events
      : [];
    if (customerId && (events.length >= expected || Date.now() > deadline)) {
      const [{ identities }, { traits }, view] = await Promise.all([
        collector.api<{ identities: CdpIdentity[] }>(`${cdp}/identities/${customerId}?limit=500`),
        collector.api<{ traits: CdpTrait[] }>(`${cdp}/traits/${customerId}?limit=500`),
        collector.api<Customer360>(`${cdp}/customer360/${customerId}`),
      ]);
      return { customerId, events, identities, traits, view };
    }
    if (Date.now() > deadline) throw new Error(`No customer has the userId ${userId} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
