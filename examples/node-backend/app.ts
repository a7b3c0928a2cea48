import type { Analytics } from '@tributary/analytics/node';
import { Hono } from 'hono';
import { getCookie } from 'hono/cookie';

/**
 * The backend's routes. Login identifies the user server-side and links the browser's anonymous ID
 * (the SDK's first-party cookie) to them; checkout records the purchase where it really happens.
 */
export function backendApp(analytics: Analytics) {
  return new Hono()
    .post('/login', async (c) => {
      const { email } = await c.req.json<{ email?: string }>();
      if (!email) return c.json({ error: { code: 'bad_request', message: 'email is required' } }, 400);
      const userId = `user-${email.trim().toLowerCase()}`;
      const anonymousId = getCookie(c, 'tributary_anonymous_id');
      analytics.identify({
        userId,
        ...(anonymousId ? { anonymousId } : {}),
        traits: { email: email.trim().toLowerCase() },
      });
      analytics.track({ userId, event: 'Signed In', eventType: 'LOGIN' });
      return c.json({ userId });
    })
    .post('/purchase', async (c) => {
      const { userId, product, total } = await c.req.json<{ userId?: string; product?: string; total?: number }>();
      if (!userId || !product || typeof total !== 'number') {
        return c.json({ error: { code: 'bad_request', message: 'userId, product and total are required' } }, 400);
      }
      const orderId = crypto.randomUUID();
      analytics.track({
        userId,
        event: 'Order Completed',
        eventType: 'PURCHASE',
        properties: { orderId, product, total, revenue: total, currency: 'USD' },
      });
      return c.json({ orderId });
    });
}
