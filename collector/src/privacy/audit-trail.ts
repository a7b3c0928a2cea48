import { createMiddleware } from 'hono/factory';
import type { Db } from '../db/client';
import { auditLog } from '../db/schema';
import type { AuthEnv } from '../http/auth';

type AuditEntry = typeof auditLog.$inferInsert;

const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/i;

export interface AuditTrailOptions {
  /** Most time an entry waits in memory before it is written. */
  flushIntervalMs?: number;
  /** Entries that trigger a write before the interval is up. */
  maxBuffered?: number;
}

/**
 * The append-only audit trail. Requests only push to a buffer, so recording costs the read path
 * nothing measurable; a background flush writes the buffer in one INSERT. A failed write keeps the
 * entries for the next flush, and `flush()` on shutdown writes what is left.
 */
export class AuditTrail {
  readonly #db: Db;
  readonly #options: Required<AuditTrailOptions>;
  #buffer: AuditEntry[] = [];
  #timer: NodeJS.Timeout | undefined;
  #flushing: Promise<void> | undefined;

  constructor(db: Db, options: AuditTrailOptions = {}) {
    this.#db = db;
    this.#options = { flushIntervalMs: 500, maxBuffered: 500, ...options };
  }

  record(entry: AuditEntry) {
    this.#buffer.push(entry);
    if (this.#buffer.length >= this.#options.maxBuffered) void this.flush();
    else this.#timer ??= setTimeout(() => void this.flush(), this.#options.flushIntervalMs);
  }

  /** Writes everything buffered so far; resolves when it is stored (or kept for a retry). */
  async flush(): Promise<void> {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.#flushing;
    if (!this.#buffer.length) return;
    const entries = this.#buffer;
    this.#buffer = [];
    this.#flushing = (async () => {
      try {
        await this.#db.insert(auditLog).values(entries);
      } catch (e) {
        // Kept, in order, for the next attempt: the trail must not lose an entry to a database hiccup.
        this.#buffer = [...entries, ...this.#buffer];
        this.#timer ??= setTimeout(() => void this.flush(), this.#options.flushIntervalMs * 4);
        console.error('audit trail: write failed, will retry', (e as Error).message);
      } finally {
        this.#flushing = undefined;
      }
    })();
    await this.#flushing;
  }

  /** Middleware recording who did what to which customer, and how it ended. */
  middleware() {
    return createMiddleware<AuthEnv>(async (c, next) => {
      await next();
      const key = c.get('key');
      if (!key) return;
      const customerId = c.req.path.match(UUID)?.[0] ?? null;
      const status = c.res.status;
      this.record({
        keyId: key.id,
        action: `${c.req.method} ${c.req.routePath}`,
        customerId,
        method: c.req.method,
        endpoint: c.req.path,
        status,
        outcome: status < 400 ? 'success' : status < 500 ? 'refused' : 'error',
        at: new Date(),
      });
    });
  }
}
