import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type Browser, type BrowserContext, chromium } from 'playwright-core';

export interface OfflineChromium {
  browser: Browser;
  /**
   * What Chromium tried to reach beyond 127.0.0.1, refused: `GET http://host/...` or `CONNECT host:443`.
   * Chromium's own update and account checks land here too, whatever the page does.
   */
  refused: string[];
  close(): Promise<void>;
}

/**
 * The system's Chromium (never a downloaded one) with no way off this machine: every request for
 * another host goes to a proxy that refuses and records it, while 127.0.0.1 is reached directly
 * (Chromium never proxies loopback unless told to).
 *
 * Not `context.route()`: while any route is registered, playwright answers every CORS preflight
 * itself with permissive headers, so the collector's own preflight answers would go untested.
 *
 * @example
 * const chromium = await launchOfflineChromium(); ... await chromium.close();
 */
export async function launchOfflineChromium(): Promise<OfflineChromium> {
  const refused: string[] = [];
  const outside: Server = createServer((req, res) => {
    refused.push(`${req.method} ${req.url}`);
    res.writeHead(403).end();
  });
  outside.on('connect', (req, socket) => {
    refused.push(`CONNECT ${req.url}`);
    socket.end('HTTP/1.1 403 Forbidden\r\n\r\n');
  });
  await new Promise<void>((resolve) => outside.listen(0, '127.0.0.1', resolve));
  const { port } = outside.address() as AddressInfo;
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      `--proxy-server=http://127.0.0.1:${port}`,
    ],
  });
  return {
    browser,
    refused,
    async close() {
      await browser.close();
      outside.closeAllConnections();
      await new Promise<void>((resolve) => outside.close(() => resolve()));
    },
  };
}

export interface NetworkWatch {
  /**
   * Every request the context's pages and workers made to a host other than 127.0.0.1 (a vendor CDN,
   * a config server ...): the libraries must work with this list empty.
   */
  leaving: string[];
  /** The path of every POST the pages made (`/v1/p`, `/beacon/v1/batch` ...), in order. */
  posts: string[];
  /** `POST http://...: 404` or `...: net::ERR_FAILED` (a refused preflight): what the page was refused. */
  failures: string[];
}

/** What a browser context's requests reach, and which of them fail. */
export function watchNetwork(context: BrowserContext): NetworkWatch {
  const watch: NetworkWatch = { leaving: [], posts: [], failures: [] };
  context.on('request', (request) => {
    const { protocol, hostname, pathname } = new URL(request.url());
    if ((protocol === 'http:' || protocol === 'https:') && hostname !== '127.0.0.1') watch.leaving.push(request.url());
    if (request.method() === 'POST') watch.posts.push(pathname);
  });
  context.on('response', (response) => {
    if (response.status() >= 400) {
      watch.failures.push(`${response.request().method()} ${response.url()}: ${response.status()}`);
    }
  });
  context.on('requestfailed', (request) => {
    watch.failures.push(`${request.method()} ${request.url()}: ${request.failure()?.errorText}`);
  });
  return watch;
}
