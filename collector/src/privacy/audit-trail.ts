import { randomUUID } from 'node:crypto';
import { appendFileSync, existsSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { sql } from 'drizzle-orm';
import { createMiddleware } from 'hono/factory';
import type { Db, Tx } from '../db/client';
import { auditLog } from '../db/schema';
import type { AuthEnv } from '../http/auth';
import { errorSummary } from '../http/errors';
import type { Keyring } from './encryption';
import { isTombstone, type Tombstones, tombstoneOf, withTombstones } from './tombstone';

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
  /**
   * Writes an entry that names a deleted customer with the customer's tombstone instead of the ID
   * (see `tombstoneOf`), whichever process recorded it and whenever. Without it entries are written as recorded.
   */
  keyring?: Keyring;
}

/**
 * Entries as the database stores them. An entry naming a deleted customer gets the customer's
 * tombstone: the customer is known to be deleted when a regulation or an earlier entry names its
 * tombstone. The same statement decides and inserts, and a deletion holds a lock on audit_log until
 * it commits (tombstoneAuditRows): every entry, from any process, is updated by it or inserted after it.
 */
async function insertEntries(db: Db, entries: AuditEntry[], keyring: Keyring | undefined) {
  if (!keyring) {
    await db.insert(auditLog).values(entries).onConflictDoNothing({ target: auditLog.entryId });
    return;
  }
  const rows = entries.map((e) => {
    const tombstone = e.customerId && !isTombstone(e.customerId) ? tombstoneOf(keyring, e.customerId) : null;
    const endpoint =
      tombstone && e.customerId
        ? withTombstones(e.endpoint, new Map([[e.customerId.toLowerCase(), tombstone]]))
        : e.endpoint;
    return { ...e, tombstone, tombstonedEndpoint: endpoint };
  });
  await db.execute(sql`
    insert into audit_log (entry_id, key_id, action, customer_id, method, endpoint, status, outcome, at)
    select e."entryId", e."keyId", e.action, case when g.gone then e.tombstone else e."customerId" end, e.method,
      case when g.gone then e."tombstonedEndpoint" else e.endpoint end, e.status, e.outcome, e.at
    from jsonb_to_recordset(${JSON.stringify(rows)}::jsonb) as e(
      "entryId" uuid, "keyId" text, action text, "customerId" uuid, tombstone uuid, method text, endpoint text,
      "tombstonedEndpoint" text, status integer, outcome text, at timestamptz)
    cross join lateral (select e.tombstone is not null
      and (exists (select 1 from regulations r where r.customer_id = e.tombstone)
        or exists (select 1 from audit_log a where a.customer_id = e.tombstone)) as gone) g
    on conflict (entry_id) do nothing`);
}

/**
 * The audit rows naming deleted customers, with their tombstones instead (the ID in the endpoint
 * too). Inside the deletion's transaction it first locks audit_log against inserts until the commit:
 * an entry written meanwhile by any process would otherwise keep the ID.
 */
export async function tombstoneAuditRows(db: Db | Tx, tombstones: Tombstones, options: { lock?: boolean } = {}) {
  if (!tombstones.size) return;
  if (options.lock) await db.execute(sql`lock table audit_log in share row exclusive mode`);
  const pairs = [...tombstones].map(([id, tombstone]) => ({ id, tombstone }));
  await db.execute(sql`
    update audit_log a set customer_id = t.tombstone,
      endpoint = regexp_replace(a.endpoint, t.id::text, t.tombstone::text, 'gi')
    from jsonb_to_recordset(${JSON.stringify(pairs)}::jsonb) as t(id uuid, tombstone uuid)
    where a.customer_id = t.id`);
}

/**
 * The append-only audit trail. Requests only push to a buffer (and append a line to the journal
 * file), so recording costs the read path nothing measurable; a background flush writes the buffer in
 * one INSERT. A failed write keeps the entries for the next flush, `flush()` on shutdown writes what
 * is left, and after a crash `recover()` stores what the journal holds (each entry once: entry IDs).
 */
export class AuditTrail {
  readonly #db: Db;
  readonly #options: Required<Omit<AuditTrailOptions, 'keyring'>>;
  readonly #keyring: Keyring | undefined;
  #buffer: AuditEntry[] = [];
  /** The entries of the write under way. */
  #writing: AuditEntry[] = [];
  #timer: NodeJS.Timeout | undefined;
  #flushing: Promise<void> | undefined;

  constructor(db: Db, options: AuditTrailOptions = {}) {
    this.#db = db;
    const { keyring, ...rest } = options;
    this.#options = { flushIntervalMs: 500, maxBuffered: 500, journalPath: '', ...rest };
    this.#keyring = keyring;
  }

  record(fields: Omit<AuditEntry, 'entryId'>) {
    const entry = {
      ...fields,
      action: storableText(fields.action),
      endpoint: storableText(fields.endpoint),
      entryId: randomUUID(),
    };
    // Synchronous: once the request answers, the entry is in the operating system's hands.
    if (this.#options.journalPath)
      appendFileSync(this.#options.journalPath, `${JSON.stringify(entry)}\n`, { mode: 0o600 });
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
    this.#writing = entries;
    this.#flushing = (async () => {
      try {
        await insertEntries(this.#db, entries, this.#keyring);
        if (pending) rmSync(pending, { force: true });
      } catch (e) {
        // Kept, in order, for the next attempt: the trail must not lose an entry to a database hiccup.
        this.#buffer = [...entries, ...this.#buffer];
        this.#timer ??= setTimeout(() => void this.flush(), this.#options.flushIntervalMs * 4);
        console.error(`audit trail: writing ${entries.length} entries failed, will retry: ${errorSummary(e)}`);
      } finally {
        this.#flushing = undefined;
        this.#writing = [];
      }
    })();
    await this.#flushing;
  }

  /**
   * After a deletion: the entries naming the deleted customers, wherever they are, get the tombstones
   * instead of the IDs: in the buffer, in the write under way, in the journal files, and in the
   * database once that write is done (the deletion's own update may have run before it).
   */
  async forget(tombstones: Tombstones): Promise<void> {
    if (!tombstones.size) return;
    for (const entry of [...this.#buffer, ...this.#writing]) {
      const tombstone = entry.customerId && tombstones.get(entry.customerId.toLowerCase());
      if (tombstone) entry.customerId = tombstone;
      entry.endpoint = withTombstones(entry.endpoint, tombstones);
    }
    // Synchronous, like record(): no line can be appended between the read and the write.
    for (const file of this.#journalFiles()) {
      const text = readFileSync(file, 'utf8');
      const rewritten = withTombstones(text, tombstones);
      if (rewritten === text) continue;
      const next = `${file}.${randomUUID()}.rewrite`;
      writeFileSync(next, rewritten, { mode: 0o600 });
      renameSync(next, file);
    }
    await this.#flushing;
    await tombstoneAuditRows(this.#db, tombstones);
  }

  /** The journal file and the ones set aside by writes under way, rewrites, or a crash. */
  #journalFiles(): string[] {
    const journal = this.#options.journalPath;
    if (!journal) return [];
    const dir = dirname(journal);
    return existsSync(dir)
      ? readdirSync(dir)
          .filter((f) => f.startsWith(basename(journal)))
          .map((f) => join(dir, f))
      : [];
  }

  /** Stores what a crashed process left in its journal files (idempotent: entry IDs are unique). */
  async recover(): Promise<number> {
    let stored = 0;
    for (const file of this.#journalFiles()) {
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
      for (let i = 0; i < entries.length; i += 500)
        await insertEntries(this.#db, entries.slice(i, i + 500), this.#keyring);
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
