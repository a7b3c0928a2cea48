import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

export interface Site {
  /** The page that loads the bundle: `http://127.0.0.1:<port>/`, another origin than the collector's. */
  url: string;
  close(): Promise<void>;
}

/** compat/, where the libraries are installed: the bundle's imports resolve from here. */
const compatDir = fileURLToPath(new URL('..', import.meta.url));

/**
 * A web site on its own 127.0.0.1 port whose page runs `script`, bundled by esbuild as a site would
 * bundle the library from npm: `script` imports the real package and puts what the test drives on
 * `window`. A port of its own makes every call to the collector cross-origin, so the browser sends its
 * CORS preflights as it does on a customer's site.
 *
 * @example
 * const site = await serveSite(`import { AnalyticsBrowser } from '@segment/analytics-next'; window.AnalyticsBrowser = AnalyticsBrowser;`);
 */
export async function serveSite(script: string): Promise<Site> {
  const bundle = await build({
    stdin: { contents: script, resolveDir: compatDir, loader: 'js' },
    bundle: true,
    format: 'iife',
    platform: 'browser',
    write: false,
    define: { 'process.env.NODE_ENV': '"production"' },
    logLevel: 'error',
  });
  const js = bundle.outputFiles[0]?.text ?? '';
  const html = '<!doctype html><meta charset="utf-8"><title>Compat</title><script src="/library.js"></script>';
  const server = createServer((req, res) => {
    if (req.url === '/library.js') res.writeHead(200, { 'content-type': 'text/javascript' }).end(js);
    else res.writeHead(200, { 'content-type': 'text/html' }).end(html);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/`,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
