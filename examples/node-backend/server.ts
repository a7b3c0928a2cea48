import { serve } from '@hono/node-server';
import { Analytics } from '@tributary/analytics/node';
import { backendApp } from './app';

// `pnpm --filter @tributary/example-node-backend start` beside a running collector (`pnpm start`, or the website example).
const analytics = new Analytics({
  writeKey: process.env.WRITE_KEY ?? 'wk_example_website_write_key',
  host: process.env.COLLECTOR_URL ?? 'http://127.0.0.1:3002',
  flushAt: 20,
  flushInterval: 2000,
});
analytics.on('error', (e) => console.warn(`analytics: ${e.code}: ${e.message}`));

const port = Number(process.env.PORT ?? 3003);
const server = serve({ fetch: backendApp(analytics).fetch, port }, () => {
  console.log(`Backend on http://127.0.0.1:${port}: POST /login {email}, POST /purchase {userId, product, total}`);
});

// Deliver what is queued before the process goes.
const stop = async () => {
  server.close();
  const { status, pending } = await analytics.closeAndFlush({ timeout: 5000 });
  console.log(`analytics: ${status}${pending ? `, ${pending} events not delivered` : ''}`);
  process.exit(0);
};
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
