import { and, eq, ne, sql } from 'drizzle-orm';
import { createMiddleware } from 'hono/factory';
import { type Db, queryRows } from '../db/client';
import { customerSegments } from '../db/schema';
import { textList, uuidList } from '../db/sql-lists';
import { errorSummary } from '../http/errors';
import type { IngestBatch } from '../ingest/event-row';
import { evaluateSegment } from './segment-evaluation';

export interface SegmentRefreshOptions {
  /** How long to wait for more changes before evaluating (changes arrive in bursts). */
  delayMs?: number;
  onError?: (err: unknown) => void;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Keeps rule segments following the data, off the request path: changes mark customers (or the
 * identifiers of ingested events) dirty, and after a short quiet period the rule segments are
 * evaluated for just those customers, one segment at a time, one run at a time. RFM segments are
 * evaluated whole, as quintiles move with everyone's purchases.
 */
export class SegmentRefresher {
  readonly #db: Db;
  readonly #options: Required<SegmentRefreshOptions>;
  #customers = new Set<string>();
  #anonymousIds = new Set<string>();
  #userIds = new Set<string>();
  #segments = new Set<string>();
  #timer: ReturnType<typeof setTimeout> | null = null;
  #running: Promise<void> | null = null;
  #closed = false;

  constructor(db: Db, options: SegmentRefreshOptions = {}) {
    this.#db = db;
    this.#options = {
      delayMs: 100,
      onError: (err) => console.error(`segment refresh failed: ${errorSummary(err)}`),
      ...options,
    } satisfies Required<SegmentRefreshOptions>;
  }

  /** A customer's traits, consents, identities or scores changed. */
  touchCustomer(...ids: string[]) {
    for (const id of ids) this.#customers.add(id);
    this.#schedule();
  }

  /** A flush committed these events; their customers are found through their identifiers. */
  touchBatches(batches: readonly IngestBatch[]) {
    for (const b of batches)
      for (const event of b.events) {
        if (event.customer_id) this.#customers.add(event.customer_id);
        if (event.anonymous_id) this.#anonymousIds.add(event.anonymous_id);
        if (event.user_id) this.#userIds.add(event.user_id);
      }
    this.#schedule();
  }

  /** A segment's definition changed: evaluate it whole. */
  touchSegment(id: string) {
    this.#segments.add(id);
    this.#schedule();
  }

  #schedule() {
    if (this.#closed || this.#timer) return;
    this.#timer = setTimeout(() => {
      this.#timer = null;
      void this.#run();
    }, this.#options.delayMs);
  }

  async #run() {
    if (this.#running) {
      // One run at a time; what arrived meanwhile waits for the next.
      await this.#running;
      return this.#schedule();
    }
    this.#running = this.#refresh()
      .catch(this.#options.onError)
      .finally(() => {
        this.#running = null;
      });
    await this.#running;
  }

  async #refresh() {
    const customers = [...this.#customers];
    const anonymousIds = [...this.#anonymousIds];
    const userIds = [...this.#userIds];
    const segmentIds = [...this.#segments];
    this.#customers = new Set();
    this.#anonymousIds = new Set();
    this.#userIds = new Set();
    this.#segments = new Set();

    const now = new Date();
    const segments = await this.#db
      .select()
      .from(customerSegments)
      .where(and(eq(customerSegments.isActive, true), ne(customerSegments.segmentType, 'STATIC')));
    for (const segment of segments.filter((s) => segmentIds.includes(s.id))) {
      await evaluateSegment(this.#db, segment, { now });
    }
    const ids = await this.#resolve(customers, anonymousIds, userIds);
    if (!ids.length) return;
    for (const segment of segments.filter((s) => !segmentIds.includes(s.id))) {
      await evaluateSegment(this.#db, segment, { now, ...(segment.segmentType === 'RFM' ? {} : { customerIds: ids }) });
    }
  }

  /** The current (merged-into) customers behind IDs and identifiers. */
  async #resolve(customers: string[], anonymousIds: string[], userIds: string[]): Promise<string[]> {
    if (!customers.length && !anonymousIds.length && !userIds.length) return [];
    const rows = await queryRows<{ id: string }>(
      this.#db,
      // By uuid, not `c.id::text`: a cast column cannot use the primary key's index.
      sql`select distinct coalesce(c.merged_into_id, c.id) as id from customers c where c.id in ${uuidList(customers.filter((id) => UUID.test(id)))}
        union select customer_id from customer_identities where identity_type = 'COOKIE_ID' and identity_value in ${textList(anonymousIds)}
        union select customer_id from customer_identities where identity_type = 'EXTERNAL_ID' and identity_value in ${textList(userIds)}`,
    );
    return rows.map((r) => String(r.id));
  }

  /** Resolves once nothing is pending or running (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.#timer || this.#running) {
      if (this.#running) await this.#running;
      else await new Promise((r) => setTimeout(r, this.#options.delayMs));
    }
  }

  close() {
    this.#closed = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
  }
}

/**
 * Marks the customer of every successful write under /traits, /consents and /identities dirty (and
 * the target of a merge), so the routes that change customer data need not know about segments.
 */
export function refreshAfterWrites(refresher: SegmentRefresher) {
  return createMiddleware(async function refreshAfterWritesMiddleware(c, next) {
    await next();
    if (c.req.method === 'GET' || c.res.status >= 400) return;
    const match = c.req.path.match(/\/(traits|consents|identities|customer360)\/([^/]+)/);
    const id = match?.[2];
    if (id && UUID.test(id)) refresher.touchCustomer(id);
    if (c.req.path.endsWith('/identities/merge')) {
      const body: unknown = await c.req.json().catch(() => null);
      const target = (body as { targetCustomerId?: unknown } | null)?.targetCustomerId;
      if (typeof target === 'string' && UUID.test(target)) refresher.touchCustomer(target);
    }
  });
}
