import { createConnection, createServer, type Server, type Socket } from 'node:net';

/**
 * - `pass`: bytes flow both ways.
 * - `refuse`: nothing listens (a new connection is refused, RST from the kernel) and the existing
 *   connections are closed, as when the server restarts or fails over.
 * - `reset`: every connection, existing or new, is reset (RST).
 * - `black-hole`: connections are accepted but nothing is forwarded: bytes are dropped both ways,
 *   with no RST, as when the network drops packets. A TCP stream with a hole cannot go on (a real
 *   network's TCP would have retransmitted them), so when the fault ends the connections that lost
 *   bytes are reset, as a partition outlasting TCP's patience or a middlebox that lost the flow ends.
 * - `slow`: every chunk is delayed by a random time in `slowMs`, in order.
 */
export type FaultMode = 'pass' | 'refuse' | 'reset' | 'black-hole' | 'slow';

export interface FaultProxy {
  readonly port: number;
  readonly mode: FaultMode;
  /** `url` (a postgres:// URL of the target) with the proxy's host and port. */
  via(url: string): string;
  set(mode: FaultMode): Promise<void>;
  /** Connections open through the proxy now. */
  connections(): number;
  close(): Promise<void>;
}

interface Pair {
  client: Socket;
  upstream: Socket | null;
  /** Bytes were dropped: the connection is reset when the black hole ends. */
  holed: boolean;
  /** When each direction's last delayed chunk is due, so chunks keep their order. */
  due: { up: number; down: number };
}

/** Ports outside Linux's ephemeral range (32768-60999), so nothing takes ours while we refuse. */
const randomPort = () => 20_000 + Math.floor(Math.random() * 12_000);

/**
 * A TCP proxy in front of `target` whose faults are switched by `set`: plain `node:net`, for tests
 * that put a misbehaving network between the collector and PostgreSQL.
 *
 * @example
 * const proxy = await startFaultProxy({ host: '127.0.0.1', port: 5432 });
 * await proxy.set('black-hole'); ... await proxy.set('pass');
 */
export async function startFaultProxy(
  target: { host: string; port: number },
  options: { slowMs?: [number, number] } = {},
): Promise<FaultProxy> {
  const [slowMin, slowMax] = options.slowMs ?? [500, 2000];
  const pairs = new Set<Pair>();
  let mode: FaultMode = 'pass';
  let server: Server | null = null;
  let port = 0;

  const reset = (pair: Pair) => {
    pairs.delete(pair);
    pair.client.resetAndDestroy();
    pair.upstream?.resetAndDestroy();
  };

  /** Forwards a chunk from one side to the other as the mode says. */
  const forward = (pair: Pair, direction: 'up' | 'down', chunk: Buffer) => {
    const to = direction === 'up' ? pair.upstream : pair.client;
    if (mode === 'black-hole' || !to) {
      pair.holed = true;
      return;
    }
    const now = Date.now();
    const delay = mode === 'slow' ? slowMin + Math.random() * (slowMax - slowMin) : 0;
    // A chunk never overtakes one delayed before it, even once the slowness is over.
    const at = Math.max(now + delay, pair.due[direction]);
    if (at <= now) {
      if (!to.destroyed) to.write(chunk);
      return;
    }
    pair.due[direction] = at;
    setTimeout(() => {
      if (!to.destroyed && !pair.holed) to.write(chunk);
    }, at - now);
  };

  const accept = (client: Socket) => {
    client.setNoDelay(true);
    const pair: Pair = { client, upstream: null, holed: false, due: { up: 0, down: 0 } };
    pairs.add(pair);
    client.on('error', () => {});
    client.on('close', () => {
      pairs.delete(pair);
      pair.upstream?.destroy();
    });
    if (mode === 'reset' || mode === 'refuse') return reset(pair); // 'refuse': one that came in as the listener closed
    client.on('data', (chunk: Buffer) => forward(pair, 'up', chunk));
    // A connection accepted into a black hole has nowhere to go: it loses its bytes until it gives up.
    if (mode === 'black-hole') return;
    const upstream = createConnection({ host: target.host, port: target.port, noDelay: true });
    pair.upstream = upstream;
    upstream.on('data', (chunk: Buffer) => forward(pair, 'down', chunk));
    upstream.on('error', () => {});
    upstream.on('close', () => {
      pairs.delete(pair);
      client.destroy();
    });
  };

  const listen = (at: number) =>
    new Promise<void>((resolve, reject) => {
      const s = createServer(accept);
      s.once('error', reject);
      s.listen(at, '127.0.0.1', () => {
        s.off('error', reject);
        server = s;
        resolve();
      });
    });

  for (let attempt = 0; ; attempt++) {
    const at = randomPort();
    try {
      await listen(at);
      port = at;
      break;
    } catch (e) {
      if (attempt > 20) throw e;
    }
  }

  // The listening socket closes at once; close()'s callback would wait for every connection to end.
  const stopListening = () => {
    server?.close();
    server = null;
  };

  return {
    get port() {
      return port;
    },
    get mode() {
      return mode;
    },
    via(url) {
      const u = new URL(url);
      u.hostname = '127.0.0.1';
      u.port = String(port);
      return u.toString();
    },
    connections: () => pairs.size,
    async set(next) {
      const previous = mode;
      mode = next;
      if (next === 'refuse') {
        for (const pair of pairs) {
          pairs.delete(pair);
          pair.client.destroy();
          pair.upstream?.destroy();
        }
        stopListening();
      } else if (!server) {
        await listen(port);
      }
      if (next === 'reset') for (const pair of pairs) reset(pair);
      if (previous === 'black-hole' && next !== 'black-hole') {
        for (const pair of pairs) if (pair.holed) reset(pair);
      }
    },
    async close() {
      mode = 'refuse';
      for (const pair of pairs) {
        pair.client.destroy();
        pair.upstream?.destroy();
      }
      pairs.clear();
      stopListening();
    },
  };
}
