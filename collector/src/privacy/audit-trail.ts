import { randomUUID } from 'node:crypto';
import { appendFileSync, existsSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { createMiddleware } from 'hono/factory';
import type { Db } from '../db/client';
import { auditLog } from '../db/schema';
import type { AuthEnv } from '../http/auth';
import { errorSummary } from '../http/errors';

type AuditEntry = typeof auditLog.$inferInsert;

/**
 * A request path as PostgreSQL text can hold it: a hostile path may decode to U+0000 or a lone
 * surrogate, which text columns refuse, and one such entry would block every entry batched with it.
 */
const storableText = (s: string) => s.replaceAll('\u0000', '\ufffd').toWellFormed().slice(0, 2048);

const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/i;

export interface AuditTrailOptions {
  /** Most time an entry waits in memory before it is written. */
  flushIntervalMs?: number;
  /** Entries that trigger a write before the interval is up. */
  maxBuffered?: number;
  /**
   * A file each entry is appended to before the request answers, so a crash (even SIGKILL) between
   * the answer and the database write loses nothing: `recover()` replays it at the next start.
   */
  journalPath?: string;
}

/**
 * The append-only audit trail. Requests only push to a buffer (and append a line to the journal
 * file), so recording costs the read path nothing measurable; a background flush writes the buffer in
 * one INSERT. A failed write keeps the entries for the next flush, `flush()` on shutdown writes what
 * is left, and after a crash `recover()` stores what the journal holds (each entry once: entry IDs).
 */
export class AuditTrail {
  readonly #db: Db;
  readonly #options: Required<AuditTrailOptions>;
  #buffer: AuditEntry[] = [];
  #timer: NodeJS.Timeout | undefined;
  #flushing: Promise<void> | undefined;

  constructor(db: Db, options: AuditTrailOptions = {}) {
    this.#db = db;
    this.#options = { flushIntervalMs: 500, maxBuffered: 500, journalPath: '', ...options };
  }

  record(fields: Omit<AuditEntry, 'entryId'>) {
    const entry = {
      ...fields,
      action: storableText(fields.action),
      endpoint: storableText(fields.endpoint),
      entryId: randomUUID(),
    };
    // Synchronous: once the request answers, the entry is in the operating system's hands.
    if (this.#options.journalPath) appendFileSync(this.#options.journalPath, `${JSON.stringify(entry)}\n`);
    this.#buffer.push(entry);
    if (this.#buffer.length >= this.#options.maxBuffered) void this.flush();
    else this.#timer ??= setTimeout(() => void this.flush(), this.#options.flushIntervalMs);
  }

  /** Entries recorded but not yet in the database. */
  get pending() {
    return this.#buffer.length;
  }

  /** Writes everything buffered so far; resolves when it is stored (or kept for a retry). */
  async flush(): Promise<void> {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.#flushing;
    if (!this.#buffer.length) return;
    const entries = this.#buffer;
    this.#buffer = [];
    // The journal's current lines are exactly the buffered entries: set them aside, new ones start a new file.
    const journal = this.#options.journalPath;
    const pending = journal && `${journal}.${randomUUID()}.flushing`;
    if (journal && pending && existsSync(journal)) renameSync(journal, pending);
    this.#flushing = (async () => {
      try {
        await this.#db.insert(auditLog).values(entries).onConflictDoNothing({ target: auditLog.entryId });
        if (pending) rmSync(pending, { force: true });
      } catch (e) {
        // Kept, in order, for the next attempt: the trail must not lose an entry to a database hiccup.
        this.#buffer = [...entries, ...this.#buffer];
        this.#timer ??= setTimeout(() => void this.flush(), this.#options.flushIntervalMs * 4);
        console.error(`audit trail: writing ${entries.length} entries failed, will retry: ${errorSummary(e)}`);
      } finally {
        this.#flushing = undefined;
      }
    })();
    await this.#flushing;
  }

  /** Stores what a crashed process left in its journal files (idempotent: entry IDs are unique). */
  async recover(): Promise<number> {
    const journal = this.#options.journalPath;
    if (!journal) return 0;
    const dir = dirname(journal);
    const files = existsSync(dir)
      ? readdirSync(dir)
          .filter((f) => f.startsWith(basename(journal)))
          .map((f) => join(dir, f))
      : [];
    let stored = 0;
    for (const file of files) {
      const entries = readFileSync(file, 'utf8')
        .split('\n')
        .filter(Boolean)
        .flatMap((line) => {
          try {
            const e = JSON.parse(line) as AuditEntry & { at: string };
            return [{ ...e, at: new Date(e.at) }];
          } catch {
            return []; // a line cut short by the crash
          }
        });
      for (let i = 0; i < entries.length; i += 500) {
        await this.#db
          .insert(auditLog)
          .values(entries.slice(i, i + 500))
          .onConflictDoNothing({ target: auditLog.entryId });
      }
      stored += entries.length;
      rmSync(file, { force: true });
    }
    return stored;
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
