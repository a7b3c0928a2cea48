import { createConnection, type Socket } from 'node:net';

/** What postgres.js passes its `socket` option. */
export interface SocketOptions {
  host: string[];
  port: number[];
  path?: string | false;
}

/** The error a socket is destroyed with when the database sent nothing on it through an outage. */
const silentError = (reason: string) =>
  Object.assign(new Error(`No answer from the database: ${reason}`), { code: 'ETIMEDOUT' });

/**
 * The sockets of one postgres.js pool: it opens them (its `socket` option) and can destroy those the
 * database has gone silent on. postgres.js has no query timeout, and a connection whose packets are
 * dropped (no RST: a partition, a hung proxy) would wait forever; TCP keepalive cannot tell, since it
 * only probes connections with nothing unacknowledged in flight. A timer per query cannot either: a
 * legitimate query (a segment over a large table) may send nothing back for tens of seconds. So the
 * decision is left to the database health monitor, which pings on a connection of its own: only while
 * the database does not answer is a socket that hears nothing given up (`destroyQuiet`).
 *
 * Looking costs nothing on the query path: `bytesRead` is a counter the socket keeps anyway, read
 * only while the database is down.
 */
export class PostgresSockets {
  /** Each socket's `bytesRead` when the current outage was noticed. */
  readonly #sockets = new Map<Socket, number>();
  /** Which of several hosts (`postgres://h1,h2/db`) to connect to: the next one after a failed connect. */
  #hostIndex = 0;

  /**
   * The socket is handed over while it connects, so that postgres.js sees a refused or reset
   * connection fail as it sees its own sockets fail, gives the connection back to its pool and runs
   * its connect timeout. A factory that awaited the connection and rejected left the connection out
   * of the pool for good: each refused connect leaked a pool slot, and once all were gone every query
   * waited forever.
   *
   * Nagle's algorithm is off: postgres.js leaves it on, and COPY ends with a small CopyDone message
   * written after the data, which then waited for the server's delayed ACK (40 ms on Linux) on every
   * flush; with no delay a one-event flush takes 2 ms instead of 90.
   */
  readonly open = async (options: SocketOptions): Promise<Socket> => {
    // The connect starts in a microtask, so its earliest error comes on a later tick: after postgres.js,
    // which awaits this promise in the same run of microtasks, has put its listeners on the socket. A
    // connect that fails at once (an unreachable network) would otherwise throw an uncaught 'error'.
    await undefined;
    this.#forgetClosed();
    const socket = options.path ? createConnection({ path: options.path, noDelay: true }) : this.#connect(options);
    this.#sockets.set(socket, -1);
    // (postgres.js removes every listener of a socket it wraps in TLS: closed ones are also forgotten on each look.)
    socket.once('close', () => this.#sockets.delete(socket));
    return socket;
  };

  /**
   * A TCP connection to the current host. Its `host` and `port` are set as on postgres.js's own
   * sockets: TLS reads `host` for the server name (SNI), which poolers and hosted databases route by.
   * A connect that fails moves on to the next host, as postgres.js does, so a second host takes over.
   */
  #connect(options: SocketOptions): Socket {
    const i = this.#hostIndex % Math.max(1, options.host.length);
    const host = options.host[i] ?? '127.0.0.1';
    const port = options.port[i] ?? options.port[0] ?? 5432;
    const socket = Object.assign(createConnection({ host, port, noDelay: true }), { host, port });
    let connected = false;
    socket.once('connect', () => {
      connected = true;
    });
    socket.once('error', () => {
      if (!connected && this.#hostIndex % Math.max(1, options.host.length) === i) this.#hostIndex = i + 1;
    });
    return socket;
  }

  /** Open sockets (connecting ones included). */
  get size(): number {
    this.#forgetClosed();
    return this.#sockets.size;
  }

  /** The database stopped answering: remembers what each socket had received by now. */
  markOutage(): void {
    this.#forgetClosed();
    for (const socket of this.#sockets.keys()) this.#sockets.set(socket, socket.bytesRead);
  }

  /**
   * Destroys every socket that received nothing since `markOutage` (sockets opened since are left to
   * their connect timeout): its query, if any, fails as the database being unreachable, and its pool
   * slot reconnects. An idle socket goes too, which costs a reconnect: after an outage an open-looking
   * connection may be one the server (restarted, failed over) no longer knows.
   */
  destroyQuiet(reason: string): number {
    this.#forgetClosed();
    let destroyed = 0;
    for (const [socket, bytes] of this.#sockets) {
      if (bytes < 0 || socket.bytesRead !== bytes) continue;
      socket.destroy(silentError(reason));
      this.#sockets.delete(socket);
      destroyed++;
    }
    return destroyed;
  }

  /** Destroys every socket (the health monitor's own, after a ping got no answer). */
  destroyAll(reason: string): void {
    for (const socket of this.#sockets.keys()) socket.destroy(silentError(reason));
    this.#sockets.clear();
  }

  #forgetClosed() {
    for (const socket of this.#sockets.keys()) if (socket.destroyed) this.#sockets.delete(socket);
  }
}
