import { readFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { extname, join, normalize } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { serve } from '@hono/node-server';
import { Hono } from 'hono';

const here = fileURLToPath(new URL('.', import.meta.url));
const publicDir = join(here, 'public');
const snippetFile = join(here, '../../packages/analytics/dist/snippet.min.js');

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
};

export interface WebsiteOptions {
  /** Where the collector listens; the snippet loads the SDK from there and sends events there. */
  collectorUrl: string;
  writeKey: string;
  port?: number;
}

/**
 * Serves `public/` as a static site. Each page marks where the snippet goes with
 * `<!-- tributary:snippet -->` (optionally followed by JSON options, e.g. `{"requireConsent":true}`);
 * the server pastes the built snippet there with this collector's URL and write key, exactly what a
 * site owner pastes by hand (see packages/analytics/README.md).
 */
export async function serveWebsite({ collectorUrl, writeKey, port = 0 }: WebsiteOptions) {
  let snippet: string;
  try {
    snippet = (await readFile(snippetFile, 'utf8')).trim();
  } catch {
    throw new Error(`The SDK is not built (${snippetFile} is missing): run \`pnpm build\` first`);
  }
  const app = new Hono();
  app.get('*', async (c) => {
    const path = c.req.path.endsWith('/') ? `${c.req.path}index.html` : c.req.path;
    const file = normalize(join(publicDir, path));
    if (!file.startsWith(publicDir)) return c.text('Not found', 404);
    let body: string;
    try {
      body = await readFile(file, 'utf8');
    } catch {
      return c.text('Not found', 404);
    }
    if (file.endsWith('.html')) {
      body = body.replace(/<!-- tributary:snippet ?(\{.*?\})? ?-->/, (_m, json?: string) => {
        const options = { host: collectorUrl, ...(json ? JSON.parse(json) : {}) };
        return `<script>\n${snippet}\nanalytics.load(${JSON.stringify(writeKey)}, ${JSON.stringify(options)});\n</script>`;
      });
    }
    return c.body(body, 200, { 'Content-Type': TYPES[extname(file)] ?? 'application/octet-stream' });
  });
  const server = serve({ fetch: app.fetch, port, hostname: '127.0.0.1' });
  await new Promise<void>((resolve) => server.once('listening', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    close: () =>
      new Promise<void>((resolve) => {
        (server as { closeAllConnections?: () => void }).closeAllConnections?.();
        server.close(() => resolve());
      }),
  };
}

/** `pnpm --filter @tributary/example-website start`: the collector (PGlite in .data, or DATABASE_URL) and the site. */
async function main() {
  const { createApp } = await import('../../collector/src/app');
  const { loadConfig } = await import('../../collector/src/config');
  const { openDatabase } = await import('../../collector/src/db/client');
  const config = loadConfig({
    DATA_DIR: join(here, '.data'),
    WRITE_KEYS: 'wk_example_website_write_key',
    API_KEYS: 'sk_example_website_admin_key',
    ...process.env,
    PORT: process.env.COLLECTOR_PORT ?? '3002',
  });
  const database = await openDatabase(config);
  await database.migrate();
  const app = createApp({ database, config });
  serve({ fetch: app.fetch, port: config.PORT, hostname: '127.0.0.1' });
  const collectorUrl = `http://127.0.0.1:${config.PORT}`;
  const writeKey = config.WRITE_KEYS[0] ?? 'wk_example_website_write_key';
  const site = await serveWebsite({ collectorUrl, writeKey, port: Number(process.env.PORT ?? 8080) });
  console.log(`Collector: ${collectorUrl} (write key ${writeKey}, API key ${config.API_KEYS[0]})`);
  console.log(`Website:   ${site.url}`);
  console.log(
    `Events:    curl -H 'Authorization: Bearer ${config.API_KEYS[0]}' '${collectorUrl}/api/v1/cdp/events?limit=20'`,
  );
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((e) => {
    console.error(e);
    process.exit(1);
  });
}
