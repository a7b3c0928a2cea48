import { createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface SeenRequest {
  method: string;
  path: string;
  status: number;
  /** The `X-Retry-Count` header analytics.js adds to a retry. */
  retryCount: string | undefined;
  body: string;
}

export interface UnavailableOnce {
  /** `127.0.0.1:<port>`: where the client sends instead of the collector. */
  host: string;
  /** Every request that came through, in order of arrival, with the status it was answered. */
  seen: SeenRequest[];
  close(): Promise<void>;
}

/**
 * An HTTP proxy in front of the collector that answers the first tracking POST `503` with
 * `Retry-After: 1`, as a load balancer does while the collector restarts, and forwards everything
 * else, preflights included (the browser sees the collector's own CORS answers). The 503 carries the
 * CORS headers the collector's answers carry, so the page can read the status rather than seeing a
 * network error.
 *
 * @example
 * const proxy = await startUnavailableOnce(collector.url); ... proxy.seen[0].status === 503
 */
export async function startUnavailableOnce(target: string): Promise<UnavailableOnce> {
  const { hostname, port: targetPort } = new URL(target);
  const seen: SeenRequest[] = [];
  let refusedOne = false;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const entry: SeenRequest = {
        method: req.method ?? '',
        path: req.url ?? '',
        status: 0,
        retryCount: req.headers['x-retry-count'] as string | undefined,
        body: body.toString(),
      };
      seen.push(entry);
      if (req.method === 'POST' && !refusedOne) {
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
      const upstream = request(
        { host: hostname, port: targetPort, method: req.method, path: req.url, headers: req.headers },
        (answer) => {
          entry.status = answer.statusCode ?? 0;
          res.writeHead(entry.status, answer.headers);
          answer.pipe(res);
        },
      );
      upstream.on('error', () => res.destroy());
      upstream.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    host: `127.0.0.1:${port}`,
    seen,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
