import { sql } from 'drizzle-orm';
import { copyRows, type Db, type OpenCopy, openCopy, type Tx } from '../db/client';
import { DatabaseUnavailableError } from '../db/database-health';
import { dataErrorCode, errorSummary, hasErrorCode, isDatabaseUnavailable } from '../http/errors';
import { linkFlush } from '../identity/link-flush';
import type { Keyring } from '../privacy/encryption';
import { applyIdentifyTraits } from '../profiles/apply-identify-traits';
import { takeCustomerWriteTurn } from './customer-write-turn';
import { EVENT_COLUMNS, type EventSummary, type IngestBatch, type LinkOp } from './event-row';
import { keepEvents, sliceBatch } from './ingest-batch';
import { linkPieces } from './link-pieces';
import type { UnstorableEvent } from './refused-events';

/** What one flush writes, as `selectDropped` and hooks see it. */
export interface Flush {
  readonly batches: readonly IngestBatch[];
  /** The batches' events, in order. */
  readonly events: readonly EventSummary[];
  /** Whether the flush links identities: reads made before its transaction do not see those links. */
  readonly linked: boolean;
}

/** Writes a hook makes inside a flush's transaction, after the rows and identity links. */
export type FlushWrite = (tx: Tx) => Promise<void>;

/**
 * Work other modules add to every flush (consent records, for one). It is called before the flush's
 * transaction begins, may read (each statement sees what is committed, as it would inside), and
 * returns the writes to make inside the transaction, or null when there are none: a flush with
 * nothing to write but its rows then needs no transaction at all.
 */
export type FlushHook = (db: Db, flush: Flush) => Promise<FlushWrite | null>;

export interface BatchWriterOptions {
  /** Seals the personal data identity work stores (identity values, identify traits, customer fields). */
  keyring: Keyring;
  /** Country assumed for phone numbers without a country code. */
  defaultPhoneCountry?: string;
  hooks?: FlushHook[];
  /**
   * Picks the events not to store (consent revoked, for one), before the flush's transaction; they
   * are counted, and hooks still see them.
   */
  selectDropped?: (db: Db, flush: Flush) => Promise<ReadonlySet<EventSummary>>;
  /**
   * Flushes in flight at once. One keeps PGlite's single connection simple; on PostgreSQL a second
   * flush copies its rows while the first commits.
   */
  concurrency?: number;
  /** Told what each flush stored once it is committed (work that must see the data, off the commit path). */
  onCommitted?: (batches: readonly IngestBatch[]) => void;
  /** Told the outcome of each identity link (null: nothing linked), for metrics. */
  onLinked?: (link: LinkOp, customerId: string | null) => void;
  /** False while the database is known to be down: writes then fail at once instead of waiting. */
  available?: () => boolean;
  /**
   * A write not committed within this many ms fails (a 503): the database is too slow to answer in
   * time. Its rows may still commit; the sender's retry is then harmless (messageId). Default: none.
   */
  deadlineMs?: number;
  /**
   * The most identity links one flush makes (default `LINKS_PER_FLUSH`): a request asking for more is
   * written in pieces, and a flush takes no more queued requests than fit. Each link costs a few
   * statements, so this bounds how long one flush holds the writer, and other requests wait for it.
   */
  linksPerFlush?: number;
}

/** What became of a batch once written: the events the database refused (a data error); the rest are stored. */
export interface WriteResult {
  refused: readonly UnstorableEvent[];
}
const ALL_STORED: WriteResult = Object.freeze({ refused: Object.freeze([]) });

/** Commits spent narrowing down refused events, shared by the pieces of one request. */
interface IsolationBudget {
  commits: number;
}

interface Pending {
  batch: IngestBatch;
  /** The identity links it asks for, for the bound on a flush's links. */
  links: number;
  isolation: IsolationBudget;
  resolve: (result: WriteResult) => void;
  reject: (err: unknown) => void;
  /** When it was written (performance.now()), for the deadline. */
  at: number;
  /** Failed already (deadline, outage): its fate is told. */
  failed?: true;
}

const RECENT_LINKS_MAX = 50_000;
/**
 * The most commits spent finding the events of one request that the database refuses: enough to
 * single out about eight among 2,500 (a dozen commits each).
 */
const ISOLATION_COMMITS = 96;
/**
 * Identity links per flush. A link that cannot be done in bulk takes about seven statements (find the
 * identifiers' owners, create the customer, add its identities, store identify traits...): on
 * PostgreSQL a flush that links holds the customer-write turn other linking flushes wait for, and on
 * PGlite its statements run on the process's only thread, which answers nothing meanwhile. Sixteen keep
 * a flush to some tens of ms (`pnpm bench:isolation`).
 */
export const LINKS_PER_FLUSH = 16;
/**
 * The pause before each piece of a request written in pieces. A request that arrived during the
 * previous piece still has to be read and decoded (on the worker) before it is queued: without the
 * pause, the next piece would start first, and on PGlite, whose statements hold the only thread, that
 * request would wait for two pieces instead of one.
 */
const PIECE_PAUSE_MS = 2;
const UNIQUE_VIOLATION = '23505';

const COLUMN_NAMES = EVENT_COLUMNS.map(([n]) => n);
const STAGING_COLUMNS = EVENT_COLUMNS.map(([n, t]) => `${n} ${t}`).join(', ');

/** The fast path's COPY met a messageId stored before: the flush is redone with `dedupe`. */
class DuplicateMessageId extends Error {}

/** The batches' COPY text without the dropped events, one piece per batch that keeps any. */
function keptTexts(batches: readonly IngestBatch[], dropped: ReadonlySet<EventSummary>) {
  return batches
    .map((b) => (dropped.size ? keepEvents(b, (e) => !dropped.has(e)) : b).copy)
    .filter((copy) => copy.length);
}

/** Completes an opened COPY into `customer_events`; a messageId stored before throws DuplicateMessageId. */
async function copyEvents(copy: OpenCopy, texts: readonly Uint8Array<ArrayBuffer>[]) {
  try {
    await copy.write(texts);
  } catch (e) {
    throw hasErrorCode(e, UNIQUE_VIOLATION) ? new DuplicateMessageId('a messageId is stored already', { cause: e }) : e;
  }
}

/**
 * Rows go in by COPY straight into `customer_events`, as fast as PostgreSQL loads anything. A
 * messageId stored before (a retried batch, or another collector racing us) fails that COPY with a
 * unique violation; the flush is then redone with `dedupe`: COPY into a session-local staging table
 * and one INSERT ... ON CONFLICT DO NOTHING, which skips the duplicates instead of failing.
 */
async function insertEvents(tx: Tx, texts: readonly Uint8Array<ArrayBuffer>[], dedupe: boolean) {
  if (!texts.length) return;
  if (!dedupe) return copyEvents(await openCopy(tx, 'customer_events', COLUMN_NAMES), texts);
  await tx.execute(sql.raw(`create temp table if not exists event_staging (${STAGING_COLUMNS}) on commit delete rows`));
  await copyRows(tx, 'event_staging', COLUMN_NAMES, texts);
  const names = COLUMN_NAMES.join(', ');
  await tx.execute(
    sql.raw(
      `insert into customer_events (${names}) select ${names} from event_staging on conflict (message_id) do nothing`,
    ),
  );
}

/**
 * Group commit: requests that arrive while a transaction is being committed wait and then share the
 * next one. Each `write` resolves only after its rows are committed, naming the events the database
 * refused for their data (class 22 or 54) if any: those are found by storing the request's events
 * apart, and the others stored. Any other failure rejects the request, so nothing is acknowledged
 * that is not stored.
 */
export class BatchWriter {
  readonly #db: Db;
  readonly #options: Required<BatchWriterOptions>;
  #queue: Pending[] = [];
  #inFlight = 0;
  /** Requests being written piece by piece: between two pieces nothing is queued, but they are not done. */
  #inPieces = 0;
  /** The groups being flushed, for the deadline and `failPending`. */
  readonly #flushing = new Set<Pending[]>();
  #deadlineTimer: NodeJS.Timeout | undefined;
  /** userId/anonymousId pairs already linked, so repeated events from one visitor skip identity work. */
  readonly #recentLinks = new Set<string>();
  /** Counts `forgetLinks` calls: a flush begun before one must not remember the links it made. */
  #linkGeneration = 0;
  /**
   * Flushes committed and rows written, for metrics and for tests that prove grouping; `transactions`
   * counts the flushes that needed one (more than rows to write), `dedupeRetries` the flushes redone
   * because a messageId was stored already.
   */
  readonly stats = { commits: 0, transactions: 0, rows: 0, dropped: 0, dedupeRetries: 0 };

  constructor(db: Db, options: BatchWriterOptions) {
    this.#db = db;
    this.#options = {
      defaultPhoneCountry: 'US',
      hooks: [],
      onLinked: () => {},
      onCommitted: () => {},
      selectDropped: async () => new Set(),
      concurrency: 1,
      available: () => true,
      deadlineMs: Number.POSITIVE_INFINITY,
      linksPerFlush: LINKS_PER_FLUSH,
      ...options,
    };
  }

  /** Adds a hook run inside every flush transaction, after the rows are inserted. */
  addHook(hook: FlushHook) {
    this.#options.hooks.push(hook);
  }

  write(batch: IngestBatch): Promise<WriteResult> {
    const pieces = linkPieces(batch, this.#options.linksPerFlush, (e) => this.#asksLink(e));
    return pieces.length === 1 ? this.#enqueue(batch, { commits: 0 }) : this.#writePieces(pieces);
  }

  /** Whether an event asks the flush for an identity link (a visitor's repeated events do not). */
  #asksLink({ link }: EventSummary): boolean {
    return link !== null && (link.kind !== 'implicit' || !this.#recentLinks.has(linkKey(link)));
  }

  /**
   * Writes a request's pieces one after another, answering once all are committed (or with the first
   * failure: the pieces committed before stay, and the sender's retry is harmless, messageId). Each
   * piece joins the queue only after a pause (`PIECE_PAUSE_MS`), so that requests which arrived while
   * the previous piece was committed go first, and on PGlite the process answers in between.
   */
  async #writePieces(pieces: IngestBatch[]): Promise<WriteResult> {
    this.#inPieces++;
    try {
      const isolation = { commits: 0 };
      const refused: UnstorableEvent[] = [];
      for (const piece of pieces) {
        await new Promise((resolve) => setTimeout(resolve, PIECE_PAUSE_MS));
        refused.push(...(await this.#enqueue(piece, isolation)).refused);
      }
      return refused.length ? { refused } : ALL_STORED;
    } finally {
      this.#inPieces--;
    }
  }

  #enqueue(batch: IngestBatch, isolation: IsolationBudget): Promise<WriteResult> {
    const links = batch.events.filter((e) => this.#asksLink(e)).length;
    return new Promise((resolve, reject) => {
      this.#queue.push({ batch, links, isolation, resolve, reject, at: performance.now() });
      if (this.#options.deadlineMs !== Number.POSITIVE_INFINITY) {
        this.#deadlineTimer ??= setTimeout(() => this.#expire(), this.#options.deadlineMs).unref();
      }
      // A flush starts on the next turn of the event loop, so writes that arrive in one turn (the
      // decoded requests a worker handed back together) share it. On PGlite, whose queries run
      // without yielding to the event loop, a flush started at once would take one request alone.
      if (this.#queue.length === 1) setImmediate(() => this.#pump());
    });
  }

  /** Starts a flush of everything queued whenever fewer than `concurrency` are in flight. */
  #pump() {
    if (this.#queue.length && !this.#options.available()) {
      return this.failPending(new DatabaseUnavailableError('The database is unreachable'));
    }
    while (this.#inFlight < this.#options.concurrency && this.#queue.length) {
      const group = this.#nextGroup();
      this.#inFlight++;
      this.#flushing.add(group);
      void this.#flushGroup(group).finally(() => {
        this.#flushing.delete(group);
        this.#inFlight--;
        this.#pump();
      });
    }
  }

  /** The queued requests the next flush takes: all of them, unless their links would pass `linksPerFlush`. */
  #nextGroup(): Pending[] {
    let links = 0;
    let taken = 0;
    for (const p of this.#queue) {
      if (taken && links + p.links > this.#options.linksPerFlush) break;
      links += p.links;
      taken++;
    }
    return this.#queue.splice(0, taken);
  }

  /**
   * Fails every write not yet committed (the database went down): the waiting ones leave the queue,
   * those being flushed are answered now and may still commit (a retry is then harmless, messageId).
   */
  failPending(error: Error) {
    const queued = this.#queue;
    this.#queue = [];
    for (const p of queued) this.#fail(p, error);
    for (const group of this.#flushing) for (const p of group) this.#fail(p, error);
  }

  #fail(p: Pending, error: Error) {
    if (p.failed) return;
    p.failed = true;
    p.reject(error);
  }

  /** Fails the writes older than the deadline; runs while any write waits. */
  #expire() {
    this.#deadlineTimer = undefined;
    const { deadlineMs } = this.#options;
    const now = performance.now();
    const late = (p: Pending) => !p.failed && now - p.at >= deadlineMs;
    const error = () => new DatabaseUnavailableError(`The database did not commit the write within ${deadlineMs} ms`);
    let oldest = Number.POSITIVE_INFINITY;
    const check = (p: Pending) => {
      if (late(p)) this.#fail(p, error());
      else if (!p.failed) oldest = Math.min(oldest, p.at);
    };
    for (const p of this.#queue) check(p);
    for (const group of this.#flushing) for (const p of group) check(p);
    // Failed writes leave the queue: nobody waits for their rows any more.
    if (this.#queue.some((p) => p.failed)) this.#queue = this.#queue.filter((p) => !p.failed);
    if (oldest !== Number.POSITIVE_INFINITY) {
      this.#deadlineTimer = setTimeout(() => this.#expire(), Math.max(10, oldest + deadlineMs - now)).unref();
    }
  }

  async #flushGroup(group: Pending[]) {
    try {
      await this.#commit(group.map((p) => p.batch));
      for (const p of group) p.resolve(ALL_STORED);
    } catch (err) {
      // The database is away: every request of the group fails now (503), none is tried again alone.
      if (isDatabaseUnavailable(err)) {
        for (const p of group) p.reject(err);
        return;
      }
      // One bad request must not fail the others that happened to share its transaction.
      for (const p of group) {
        if (p.failed) continue;
        try {
          const { batch, isolation } = p;
          p.resolve(group.length === 1 ? await this.#isolate(batch, err, isolation) : await this.#storeAlone(p));
        } catch (e) {
          p.reject(e);
        }
      }
    }
  }

  /** Commits one request's events by themselves. */
  async #storeAlone({ batch, isolation }: Pending): Promise<WriteResult> {
    try {
      await this.#commit([batch]);
      return ALL_STORED;
    } catch (err) {
      return this.#isolate(batch, err, isolation);
    }
  }

  /**
   * A request's events failed to commit with `err`. A data error is narrowed down by halves to the
   * events the database refuses (log2 of the batch's size in commits per refused event), the rest
   * stored; any other error fails the request. The commits are bounded (`ISOLATION_COMMITS`), so a
   * request refused in many places cannot hold the writer: past them, the parts not yet stored are
   * refused whole. The pieces of one request share that bound (`isolation`).
   */
  async #isolate(batch: IngestBatch, err: unknown, isolation: IsolationBudget): Promise<WriteResult> {
    if (!dataErrorCode(err)) throw err;
    const refused: UnstorableEvent[] = [];
    const refuse = (part: IngestBatch, code: string, error: unknown) => {
      console.error(`the database refused ${part.events.length} event(s) (${code}): ${errorSummary(error)}`);
      for (const event of part.events) refused.push({ event, code });
    };
    const bisect = async (part: IngestBatch, error: unknown): Promise<void> => {
      const code = dataErrorCode(error);
      if (!code) throw error;
      if (part.events.length === 1) return refuse(part, code, error);
      const middle = part.events.length >> 1;
      for (const half of [sliceBatch(part, 0, middle), sliceBatch(part, middle, part.events.length)]) {
        if (isolation.commits >= ISOLATION_COMMITS) refuse(half, code, error);
        else {
          isolation.commits++;
          await this.#commit([half]).catch((e: unknown) => bisect(half, e));
        }
      }
    };
    await bisect(batch, err);
    return { refused };
  }

  async #commit(batches: IngestBatch[]): Promise<void> {
    const generation = this.#linkGeneration;
    const events = batches.flatMap((b) => b.events);
    const links: LinkOp[] = [];
    for (const event of events) if (event.link && this.#asksLink(event)) links.push(event.link);
    const flush: Flush = { batches, events, linked: links.length > 0 };
    // Rows alone need no transaction: one COPY stores them all or none, and commits them. That spares
    // a flush the round trips of BEGIN and COMMIT, which take longer than the COPY's own commit. Such
    // a COPY is opened while the reads below run, so that its round trip overlaps theirs; should a
    // hook turn out to write, it is abandoned for a transaction.
    const opening = links.length ? null : openCopy(this.#db, 'customer_events', COLUMN_NAMES);
    opening?.catch(() => {}); // a failure to open is met where it is awaited
    const abandon = () =>
      void opening?.then(
        (copy) => copy.abandon(),
        () => {},
      );
    let drop: ReadonlySet<EventSummary>;
    const writes: FlushWrite[] = [];
    try {
      drop = await this.#options.selectDropped(this.#db, flush);
      for (const hook of this.#options.hooks) {
        const write = await hook(this.#db, flush);
        if (write) writes.push(write);
      }
    } catch (e) {
      abandon();
      throw e;
    }
    const texts = keptTexts(batches, drop);
    const linked: [LinkOp, string | null][] = [];
    const transaction = (dedupe: boolean) =>
      this.#db.transaction(async (tx) => {
        this.stats.transactions++;
        linked.length = 0;
        await insertEvents(tx, texts, dedupe);
        // Identity linking reads, then writes: flushes in flight take turns here. A deadlock with an
        // API call holding the same customers is detected by PostgreSQL and retried request by request.
        if (links.length && this.#options.concurrency > 1) await takeCustomerWriteTurn(tx);
        const { defaultPhoneCountry, keyring } = this.#options;
        const customerIds = await linkFlush(tx, links, { defaultPhoneCountry, keyring }, async (linked) => {
          const calls = linked.flatMap(({ op, customerId }) =>
            op.kind === 'identify' && op.traits ? [{ customerId, traits: op.traits, at: op.at }] : [],
          );
          if (calls.length) await applyIdentifyTraits(tx, calls, { defaultPhoneCountry, keyring });
        });
        links.forEach((link, i) => {
          linked.push([link, customerIds[i] ?? null]);
        });
        for (const write of writes) await write(tx);
      });
    let stored: Promise<void>;
    if (opening && !writes.length) stored = opening.then((copy) => copyEvents(copy, texts));
    else {
      abandon();
      stored = transaction(false);
    }
    await stored.catch((e: unknown) => {
      if (!(e instanceof DuplicateMessageId)) throw e;
      this.stats.dedupeRetries++;
      return transaction(true);
    });
    for (const [link, customerId] of linked) this.#options.onLinked(link, customerId);
    this.#options.onCommitted(batches);
    this.stats.commits++;
    this.stats.rows += events.length - drop.size;
    this.stats.dropped += drop.size;
    if (generation === this.#linkGeneration) for (const l of links) this.#rememberLink(l);
  }

  /** Forgets the links made, after a deletion: a deleted visitor's next event must link it again. */
  forgetLinks() {
    this.#linkGeneration++;
    this.#recentLinks.clear();
  }

  #rememberLink(link: LinkOp) {
    if (this.#recentLinks.size >= RECENT_LINKS_MAX) this.#recentLinks.clear();
    this.#recentLinks.add(linkKey(link));
  }

  /** Resolves once everything written so far is committed (or failed). */
  async idle(): Promise<void> {
    while (this.#inFlight || this.#queue.length || this.#inPieces) await new Promise((r) => setTimeout(r, 5));
  }
}

const linkKey = (l: LinkOp) => `${l.userId ?? ''}\u0001${l.anonymousId ?? ''}`;
