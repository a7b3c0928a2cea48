import { sql } from 'drizzle-orm';
import type { Db, Tx } from '../db/client';
import { linkIdentities } from '../identity/link-identities';
import { EVENT_COLUMNS, type EventRow, type IngestBatch, type LinkOp } from './event-row';

/** Work other modules add to every flush, inside its transaction (consent records, for one). */
export type FlushHook = (tx: Tx, batches: readonly IngestBatch[]) => Promise<void>;

export interface BatchWriterOptions {
  /** Rows per INSERT statement. */
  rowsPerStatement?: number;
  /** Country assumed for phone numbers without a country code. */
  defaultPhoneCountry?: string;
  hooks?: FlushHook[];
}

interface Pending {
  batch: IngestBatch;
  resolve: () => void;
  reject: (err: unknown) => void;
}

const RECENT_LINKS_MAX = 50_000;

// One statement inserts a whole group: the rows travel as one JSON parameter and
// json_to_recordset turns them into a relation, so the statement is the same for 1 row or 5,000.
const insertSql = (json: string) => {
  const names = EVENT_COLUMNS.map(([n]) => n).join(', ');
  const defs = EVENT_COLUMNS.map(([n, t]) => `${n} ${t}`).join(', ');
  return sql`insert into customer_events (${sql.raw(names)})
    select ${sql.raw(names)} from json_to_recordset(${json}::json) as r(${sql.raw(defs)})
    on conflict (message_id) do nothing`;
};

/**
 * Group commit: requests that arrive while a transaction is being committed wait and then share the
 * next one. Each `write` resolves only after its rows are committed; a failure rejects every request
 * of the group it was in, so nothing is acknowledged that is not stored.
 */
export class BatchWriter {
  readonly #db: Db;
  readonly #options: Required<BatchWriterOptions>;
  #queue: Pending[] = [];
  #flushing = false;
  /** userId/anonymousId pairs already linked, so repeated events from one visitor skip identity work. */
  readonly #recentLinks = new Set<string>();

  constructor(db: Db, options: BatchWriterOptions = {}) {
    this.#db = db;
    this.#options = { rowsPerStatement: 2_000, defaultPhoneCountry: 'US', hooks: [], ...options };
  }

  /** Adds a hook run inside every flush transaction, after the rows are inserted. */
  addHook(hook: FlushHook) {
    this.#options.hooks.push(hook);
  }

  write(batch: IngestBatch): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#queue.push({ batch, resolve, reject });
      if (!this.#flushing) void this.#drain();
    });
  }

  async #drain() {
    this.#flushing = true;
    try {
      while (this.#queue.length) {
        const group = this.#queue;
        this.#queue = [];
        await this.#flushGroup(group);
      }
    } finally {
      this.#flushing = false;
    }
  }

  async #flushGroup(group: Pending[]) {
    try {
      await this.#commit(group.map((p) => p.batch));
      for (const p of group) p.resolve();
    } catch (err) {
      if (group.length === 1) return group[0]?.reject(err);
      // One bad request must not fail the others that happened to share its transaction.
      for (const p of group) {
        try {
          await this.#commit([p.batch]);
          p.resolve();
        } catch (e) {
          p.reject(e);
        }
      }
    }
  }

  async #commit(batches: IngestBatch[]) {
    const rows: EventRow[] = [];
    const links: LinkOp[] = [];
    for (const b of batches) {
      rows.push(...b.rows);
      for (const l of b.links) if (l.kind !== 'implicit' || !this.#recentLinks.has(linkKey(l))) links.push(l);
    }
    await this.#db.transaction(async (tx) => {
      for (let i = 0; i < rows.length; i += this.#options.rowsPerStatement) {
        const chunk = rows.slice(i, i + this.#options.rowsPerStatement);
        await tx.execute(insertSql(JSON.stringify(chunk)));
      }
      for (const link of links)
        await linkIdentities(tx, link, { defaultPhoneCountry: this.#options.defaultPhoneCountry });
      for (const hook of this.#options.hooks) await hook(tx, batches);
    });
    for (const l of links) this.#rememberLink(l);
  }

  #rememberLink(link: LinkOp) {
    if (this.#recentLinks.size >= RECENT_LINKS_MAX) this.#recentLinks.clear();
    this.#recentLinks.add(linkKey(link));
  }

  /** Resolves once everything written so far is committed (or failed). */
  async idle(): Promise<void> {
    while (this.#flushing || this.#queue.length) await new Promise((r) => setTimeout(r, 5));
  }
}

const linkKey = (l: LinkOp) => `${l.userId ?? ''}\u0001${l.anonymousId ?? ''}`;
