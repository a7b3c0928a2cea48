import type { PostgresSockets } from './postgres-sockets';

/** Whether the database answers a ping. */
export type DatabaseState = 'up' | 'down';

/** What `/health/ready` reports of the database. */
export interface HealthReport {
  state: DatabaseState;
  /** When the database entered this state (ISO 8601). */
  since: string;
  /** The last ping's round trip, in ms (up). */
  latencyMs?: number;
  /** Why the last ping failed (down): an error code (`ECONNREFUSED`, `timeout`), nothing more (it is public). */
  reason?: string;
}

/** A database call refused without trying, because the database is known to be unreachable (a 503). */
export class DatabaseUnavailableError extends Error {
  override readonly name = 'DatabaseUnavailableError';
  readonly code = 'DATABASE_UNAVAILABLE';
}

export interface DatabaseHealth {
  /**
   * False while the database is known to be unreachable (PostgreSQL's monitor saw a ping fail):
   * requests then fail at once with a 503 instead of waiting for a connection that cannot come.
   */
  readonly available: boolean;
  /** The database's state: the monitor's latest ping on PostgreSQL, a ping now on PGlite. */
  check(): Promise<HealthReport>;
  /** Calls `listener` whenever the database is found unreachable; returns the unsubscribe. */
  onDown(listener: () => void): () => void;
  close(): Promise<void>;
}

export interface HealthOptions {
  /** Time between one ping's end and the next (ms). */
  intervalMs: number;
  /** A ping not answered within this many ms counts as the database being down. */
  timeoutMs: number;
  /** Once the database is down, a pool socket that hears nothing for this many ms is given up. */
  quietMs: number;
}

export const DEFAULT_HEALTH: HealthOptions = { intervalMs: 1000, timeoutMs: 2000, quietMs: 3000 };

type PingResult = { latencyMs: number } | { reason: string; detail: string };

const TIMEOUT = 'timeout';

function failure(e: unknown): { reason: string; detail: string } {
  const code = (e as { code?: unknown })?.code;
  const message = (e as { message?: unknown })?.message;
  return {
    reason: typeof code === 'string' ? code : 'error',
    detail: (typeof message === 'string' ? message : String(e)).slice(0, 200),
  };
}

/** Runs `ping`, giving up after `timeoutMs`. */
function pingWithin(ping: () => Promise<unknown>, timeoutMs: number): Promise<PingResult> {
  const started = performance.now();
  return new Promise((resolve) => {
    let settled = false;
    const settle = (result: PingResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(result);
    };
    // A timer fires before the I/O of the same turn of the event loop is read: should the loop have
    // been held up, the answer already waiting on the socket is read first (setImmediate comes after).
    const timer = setTimeout(
      () => setImmediate(() => settle({ reason: TIMEOUT, detail: `no answer within ${timeoutMs} ms` })),
      timeoutMs,
    );
    Promise.resolve()
      .then(ping)
      .then(
        () => settle({ latencyMs: Math.round((performance.now() - started) * 10) / 10 }),
        (e: unknown) => settle(failure(e)),
      );
  });
}

/** PGlite runs in this process: it cannot be unreachable, only busy (a ping waits behind a long query). */
export function pgliteHealth(ping: () => Promise<unknown>, options: Partial<HealthOptions> = {}): DatabaseHealth {
  const { timeoutMs } = { ...DEFAULT_HEALTH, ...options };
  let last: HealthReport = { state: 'up', since: new Date().toISOString() };
  return {
    available: true,
    async check() {
      const result = await pingWithin(ping, timeoutMs);
      const state = 'reason' in result ? 'down' : 'up';
      const since = state === last.state ? last.since : new Date().toISOString();
      last = 'reason' in result ? { state, since, reason: result.reason } : { state, since, ...result };
      return last;
    },
    onDown: () => () => {},
    close: async () => {},
  };
}

/**
 * Pings PostgreSQL every `intervalMs` on a connection of its own (a pool full of long queries must
 * not look like an outage), and acts on what it finds:
 * - down (a ping failed or got no answer within `timeoutMs`): `available` turns false, so requests
 *   fail at once with a 503, and `onDown` listeners fail the requests waiting (the batch writer's);
 *   pool sockets that hear nothing for `quietMs` more are destroyed, which fails their queries and
 *   frees their pool slots (a query sent into a black hole would wait forever);
 * - up again: pool sockets that heard nothing through the outage are destroyed (a server restarted
 *   or failed over behind a proxy leaves connections that look open and fail only when next used;
 *   reconnecting now spares the next requests that failure; the cost: a long query that sent nothing
 *   through a ping's blip is failed too), and requests go through again.
 * A healthy database costs one `select 1` a second and nothing on the query path.
 */
export class PostgresHealth implements DatabaseHealth {
  readonly #ping: () => Promise<unknown>;
  readonly #pingSockets: PostgresSockets;
  readonly #poolSockets: PostgresSockets;
  readonly #options: HealthOptions;
  readonly #listeners = new Set<() => void>();
  #report: HealthReport = { state: 'up', since: new Date().toISOString() };
  #downAt = 0;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #closed = false;

  constructor(
    ping: () => Promise<unknown>,
    sockets: { ping: PostgresSockets; pool: PostgresSockets },
    options: Partial<HealthOptions> = {},
  ) {
    this.#ping = ping;
    this.#pingSockets = sockets.ping;
    this.#poolSockets = sockets.pool;
    this.#options = { ...DEFAULT_HEALTH, ...options };
    this.#running = this.#tick();
  }

  get available(): boolean {
    return this.#report.state === 'up';
  }

  async check(): Promise<HealthReport> {
    return this.#report;
  }

  onDown(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#timer);
    await this.#running;
  }

  async #tick(): Promise<void> {
    try {
      const result = await pingWithin(this.#ping, this.#options.timeoutMs);
      if (this.#closed) return;
      if ('reason' in result) this.#down(result.reason, result.detail);
      else this.#up(result.latencyMs);
    } catch (e) {
      console.error('database health check failed:', e); // the monitor must outlive its own bugs
    }
    if (this.#closed) return;
    this.#timer = setTimeout(() => {
      this.#running = this.#tick();
    }, this.#options.intervalMs);
    this.#timer.unref();
  }

  #down(reason: string, detail: string) {
    // The ping's connection may be the one that went silent: the next ping opens a fresh one.
    if (reason === TIMEOUT) this.#pingSockets.destroyAll('the health ping got no answer');
    const wasUp = this.#report.state === 'up';
    this.#report = { state: 'down', since: wasUp ? new Date().toISOString() : this.#report.since, reason };
    if (wasUp) {
      this.#downAt = performance.now();
      this.#poolSockets.markOutage();
      console.warn(`Database unreachable (${detail}): answering 503 until it is back`);
      for (const listener of this.#listeners) listener();
    } else if (performance.now() - this.#downAt >= this.#options.quietMs) {
      this.#poolSockets.destroyQuiet('the database is unreachable');
    }
  }

  #up(latencyMs: number) {
    if (this.#report.state === 'down') {
      const seconds = ((performance.now() - this.#downAt) / 1000).toFixed(1);
      console.warn(`Database reachable again after ${seconds} s`);
      this.#poolSockets.destroyQuiet('it heard nothing through an outage');
      this.#report = { state: 'up', since: new Date().toISOString(), latencyMs };
    } else {
      this.#report = { ...this.#report, latencyMs };
    }
  }
}
