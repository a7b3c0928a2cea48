import { Analytics } from '@tributary/analytics/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningCollector, startCollector } from '../../collector/test/start-collector';
import { backendApp } from './app';

let collector: RunningCollector;
beforeAll(async () => {
  collector = await startCollector();
});
afterAll(() => collector?.close());

describe('the Node backend example', () => {
  it('identifies on login (linking the browser cookie) and tracks PURCHASE on checkout', async () => {
    const analytics = new Analytics({ writeKey: collector.writeKey, host: collector.url, flushOnExit: false });
    const app = backendApp(analytics);
    const login = await app.request('/login', {
      method: 'POST',
      headers: { 'content-type': 'application/json', cookie: 'tributary_anonymous_id=browser-anon-42' },
      body: JSON.stringify({ email: 'Buyer@Example.com' }),
    });
    expect(await login.json()).toEqual({ userId: 'user-buyer@example.com' });
    const purchase = await app.request('/purchase', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ userId: 'user-buyer@example.com', product: 'home', total: 240 }),
    });
    const { orderId } = (await purchase.json()) as { orderId: string };
    expect((await app.request('/purchase', { method: 'POST', body: '{}' })).status).toBe(400);
    expect(await analytics.closeAndFlush({ timeout: 5000 })).toEqual({ status: 'flushed', pending: 0 });

    const { customerId } = await collector.api<{ customerId: string }>(
      '/api/v1/cdp/identity/resolve?identityType=COOKIE_ID&identityValue=browser-anon-42',
    );
    const view = await collector.api<{
      identities: { identityType: string; identityValue: string }[];
      recentEvents: { eventType: string; eventName: string; properties: Record<string, unknown> }[];
    }>(`/api/v1/cdp/customer360/${customerId}`);
    expect(view.identities.map((i) => i.identityValue)).toEqual(
      expect.arrayContaining(['user-buyer@example.com', 'browser-anon-42']),
    );
    const bought = view.recentEvents.find((e) => e.eventType === 'PURCHASE');
    expect(bought).toMatchObject({ eventName: 'Order Completed', properties: { orderId, total: 240 } });
    expect(view.recentEvents.map((e) => e.eventType)).toContain('LOGIN');
  });
});
