import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';

/** What the proxy does with the nth request (from 0): pass it on, answer it itself, or cut the line. */
export type Action =
  | 'forward'
  /** Forward it, then cut the connection instead of answering: the collector stored it, the SDK never hears. */
  | 'forward-and-cut'
  /** Cut the connection without forwarding: a network error. */
  | 'cut'
  /** Never answer (until the proxy closes): a collector that hangs. */
  | 'hang'
  | { status: number; headers?: Record<string, string>; body?: string };

export interface Proxy {
  url: string;
  /** Every request that reached the proxy: its batch's messageIds and what was done with it. */
  requests: { messageIds: string[]; action: Action }[];
  /** messageIds the collector received, in order, with repeats. */
  forwarded(): string[];
  close(): Promise<void>;
}

const readBody = async (req: IncomingMessage) => {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
};

const idsOf = (body: string): string[] => {
  try {
    return (JSON.parse(body).batch ?? []).map((e: { messageId: string }) => e.messageId);
  } catch {
    return [];
  }
};

/**
 * A real HTTP proxy in front of the collector that misbehaves on request: 503s, cut connections,
 * lost answers. What is outside the system (the network, a load balancer) is what it stands for.
 */
export async function startProxy(target: string, script: (n: number, req: IncomingMessage) => Action): Promise<Proxy> {
  const requests: Proxy['requests'] = [];
  let n = 0;
  const server = createServer(async (req, res) => {
    const body = await readBody(req);
    const action = script(n++, req);
    requests.push({ messageIds: idsOf(body), action });
    if (action === 'cut') return req.socket.destroy();
    if (action === 'hang') return;
    if (typeof action === 'object') {
      res.writeHead(action.status, { 'content-type': 'application/json', ...action.headers });
      return res.end(action.body ?? '{"error":{"code":"unavailable","message":"try later"}}');
    }
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string' && k !== 'host') headers[k] = v;
    const upstream = await fetch(`${target}${req.url}`, { method: req.method ?? 'POST', headers, body: body || null });
    const text = await upstream.text();
    if (action === 'forward-and-cut') return req.socket.destroy();
    const out: Record<string, string> = {};
    upstream.headers.forEach((v, k) => {
      if (!['content-length', 'content-encoding', 'transfer-encoding', 'connection'].includes(k)) out[k] = v;
    });
    res.writeHead(upstream.status, out);
    res.end(text);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    forwarded: () =>
      requests.filter((r) => r.action === 'forward' || r.action === 'forward-and-cut').flatMap((r) => r.messageIds),
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
