// `pnpm start` serves the SDK's script-tag bundle from the collector: build it once if a fresh
// checkout has none yet (the test command builds everything anyway).
import { execSync } from 'node:child_process';
import { existsSync } from 'node:fs';

if (!existsSync(new URL('../packages/analytics/dist/analytics.min.js', import.meta.url))) {
  console.log('Building the SDK bundle the collector serves at /sdk/v1/analytics.min.js ...');
  execSync('pnpm --filter @tributary/analytics build', { stdio: 'inherit' });
}
