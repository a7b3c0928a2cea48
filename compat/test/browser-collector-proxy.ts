import { createServer, type IncomingMessage, request, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface SeenRequest {
  method: string;
  path: string;
  /** The status it was answered, 0 until then. */
  status: number;
  /** The `X-Retry-Count` header analytics.js adds to a retry. */
  retryCount: string | undefined;
  body: string;
}

export interface CollectorProxyOptions {
  /** The first POST to this path is answered `503` with `Retry-After: 1`, not forwarded. */
  refuseFirst?: string;
  /** POSTs to `paths` are held until a POST to `until` has been answered: an arrival order forced. */
  hold?: { paths: string[]; until: string };
}

export interface CollectorProxy {
  /** `127.0.0.1:<port>`: where the client sends instead of the collector. */
  host: string;
  /** Every request that came through, in order of arrival. */
  seen: SeenRequest[];
  /** The paths of the POSTs passed on to the collector, in the order they were. */
  forwarded: string[];
  close(): Promise<void>;
}

/**
 * An HTTP proxy in front of the collector for what the network does to a browser's requests: a 503
 * from a load balancer while the collector restarts, or requests sent together arriving in another
 * order. Everything else is forwarded unchanged, preflights included, so the browser sees the
 * collector's own CORS answers. The 503 carries the CORS headers the collector's answers carry, so the
 * page can read the status rather than seeing a network error.
 *
 * @example
 * const proxy = await startCollectorProxy(collector.url, { refuseFirst: '/v1/i' });
 */
export async function startCollectorProxy(target: string, options: CollectorProxyOptions): Promise<CollectorProxy> {
  const { hostname, port: targetPort } = new URL(target);
  const seen: SeenRequest[] = [];
  const forwarded: string[] = [];
  let refusedOne = false;
  let releaseHeld = () => {};
  const released = new Promise<void>((resolve) => {
    releaseHeld = resolve;
  });

  const forward = (entry: SeenRequest, req: IncomingMessage, res: ServerResponse) => {
    if (req.method === 'POST') forwarded.push(entry.path);
    const upstream = request(
      { host: hostname, port: targetPort, method: req.method, path: req.url, headers: req.headers },
      (answer) => {
        entry.status = answer.statusCode ?? 0;
        res.writeHead(entry.status, answer.headers);
        answer.pipe(res);
        answer.on('end', () => {
          if (req.method === 'POST' && req.url === options.hold?.until) releaseHeld();
        });
      },
    );
    upstream.on('error', () => res.destroy());
    upstream.end(entry.body);
  };

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', async () => {
      const entry: SeenRequest = {
        method: req.method ?? '',
        path: req.url ?? '',
        status: 0,
        retryCount: req.headers['x-retry-count'] as string | undefined,
        body: Buffer.concat(chunks).toString(),
      };
      seen.push(entry);
      if (req.method !== 'POST') return forward(entry, req, res);
      if (req.url === options.refuseFirst && !refusedOne) {
        refusedOne = true;
        entry.status = 503;
        res.writeHead(503, {
          'content-type': 'application/json',
          'retry-after': '1',
          'access-control-allow-origin': '*',
          'access-control-expose-headers': 'Retry-After',
        });
        res.end('{"error":{"code":"unavailable","message":"Restarting"}}');
        return;
      }
      if (options.hold?.paths.includes(entry.path)) await released;
      forward(entry, req, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    host: `127.0.0.1:${port}`,
    seen,
    forwarded,
    async close() {
      releaseHeld();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
