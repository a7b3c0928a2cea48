import { batchBody, chunk } from './batcher';
import type { Emitter } from './emitter';
import { TributaryError, type TributaryErrorCode } from './errors';
import type { EventQueue } from './queue';
import { type BackoffOptions, backoff, outcomeOf, refusedIndices } from './retry-policy';
import type { Transport } from './transport';
import type { WireEvent } from './wire';

/** What the SDK reports while delivering. */
export interface DeliveryEvents extends Record<string, unknown> {
  /** Events dropped or refused; delivery goes on with the rest. */
  error: TributaryError;
  /** A batch the collector acknowledged. */
  flush: { count: number; messageIds: string[] };
}

export interface DeliveryOptions {
  queue: EventQueue;
  transport: Transport;
  /** The collector's `.../v1/batch` URL. */
  url: string;
  /** Put in the body (browsers, where a header would cost a CORS preflight). */
  writeKey?: string | undefined;
  /** Events per batch. */
  batchEvents: number;
  batchBytes: number;
  /** A batch leaves as soon as this many events wait ... */
  flushAt: number;
  /** ... or this many ms after the first of them was queued. */
  flushInterval: number;
  /**
   * Sends of one event that failed with a retryable error before it is dropped (Infinity: never). A
   * collector that is unavailable (no answer, 502, 503, 504, 429) does not count: an outage drops nothing.
   */
  maxRetries: number;
  backoff: BackoffOptions;
  /** Batches in flight at once. */
  concurrency: number;
  emitter: Emitter<DeliveryEvents>;
  /** Runs each lease-send-acknowledge under a lock that the tabs of a site share. */
  exclusive?: <T>(fn: () => Promise<T>) => Promise<T>;
  /** Told the fate of each event, for per-call callbacks. */
  settled?: (messageIds: readonly string[], error?: TributaryError) => void;
}

type Step = 'sent' | 'empty' | 'wait';

const unref = (t: ReturnType<typeof setTimeout>) => {
  (t as { unref?: () => void }).unref?.();
  return t;
};

/**
 * Moves events from a queue to the collector: batches by count and time within the byte limits,
 * retries with backoff and jitter, drops what the collector refuses for good, and removes an event
 * from the queue only once the collector acknowledged it.
 *
 * @example
 * const d = new Delivery({ queue, transport, url: 'https://c.example/v1/batch', ... }); d.schedule();
 */
export class Delivery {
  readonly #o: DeliveryOptions;
  #attempts = new Map<string, number>();
  /** Consecutive failed sends, for the backoff. */
  #failures = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #retryTimer: ReturnType<typeof setTimeout> | undefined;
  #running: Promise<void> | undefined;
  #again = false;
  #idleWaiters: (() => void)[] = [];
  #closed = false;

  constructor(options: DeliveryOptions) {
    this.#o = options;
  }

  /** After a push: send now if `flushAt` events wait, else within `flushInterval`. */
  schedule(): void {
    if (this.#closed || this.#retryTimer) return;
    if (this.#o.queue.available() >= this.#o.flushAt) void this.run();
    else this.#timer ??= unref(setTimeout(() => void this.run(), this.#o.flushInterval));
  }

  /**
   * Sends what is queued, batch after batch, until the queue is empty or a send must wait for its
   * backoff (a retry is then scheduled). Concurrent calls share one pass and queue one more.
   */
  run(): Promise<void> {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#running) {
      this.#again = true;
      return this.#running;
    }
    this.#running = (async () => {
      try {
        do {
          this.#again = false;
          const workers = Array.from({ length: this.#o.concurrency }, () => this.#work());
          await Promise.all(workers);
        } while (this.#again && !this.#retryTimer);
      } finally {
        this.#running = undefined;
        this.#checkIdle();
      }
    })();
    return this.#running;
  }

  /** Sends now, without waiting out a pending backoff: an explicit flush, or the network is back. */
  flush(): Promise<void> {
    clearTimeout(this.#retryTimer);
    this.#retryTimer = undefined;
    return this.run();
  }

  /** Resolves when nothing waits and nothing is in flight (every event acknowledged or dropped). */
  idle(): Promise<void> {
    return new Promise((resolve) => {
      this.#idleWaiters.push(resolve);
      this.#checkIdle();
    });
  }

  /** Stops scheduled sends (a pass already running finishes); queued events stay queued. */
  close(): void {
    this.#closed = true;
    clearTimeout(this.#timer);
    clearTimeout(this.#retryTimer);
    this.#timer = this.#retryTimer = undefined;
  }

  #checkIdle() {
    if (this.#running || this.#o.queue.available() > 0) return;
    const waiters = this.#idleWaiters;
    this.#idleWaiters = [];
    for (const w of waiters) w();
  }

  async #work(): Promise<void> {
    for (;;) {
      const step = this.#o.exclusive ? await this.#o.exclusive(() => this.#sendOne()) : await this.#sendOne();
      if (step !== 'sent') return;
    }
  }

  /** Drops events for good, reporting why (`status`: the collector's answer, if any). */
  #drop(events: readonly WireEvent[], code: TributaryErrorCode, message: string, status: number | undefined) {
    const ids = events.map((e) => e.messageId);
    for (const id of ids) this.#attempts.delete(id);
    const error = new TributaryError(code, message, { messageIds: ids, status });
    this.#o.emitter.emit('error', error);
    this.#o.settled?.(ids, error);
    return this.#o.queue.ack(ids);
  }

  async #sendOne(): Promise<Step> {
    if (this.#retryTimer) return 'wait';
    const { queue, batchEvents, batchBytes } = this.#o;
    const leased = await queue.lease(batchEvents);
    if (!leased.length) return 'empty';
    const [batch = [], ...rest] = chunk(leased, batchBytes, batchEvents);
    queue.release(rest.flat().map((e) => e.messageId));
    const ids = batch.map((e) => e.messageId);

    let status: number | undefined;
    let retryAfter: string | null = null;
    let text = '';
    try {
      const res = await this.#o.transport(this.#o.url, batchBody(batch, this.#o.writeKey));
      ({ status, retryAfter } = res);
      text = res.text ?? '';
    } catch {
      // No answer (the network, DNS, a refused connection): `status` stays undefined.
    }
    const outcome = outcomeOf(status, retryAfter);

    if (outcome.kind !== 'retry') {
      // What the collector refused is dropped and reported, never sent again: the events a 200's
      // `refused` or a 4xx's issues name (`batch.3...`), or the whole batch when a 4xx names none.
      const named = refusedIndices(text);
      const all = outcome.kind === 'drop' && !batch.some((_, i) => named.has(i));
      const refused = batch.filter((_, i) => all || named.has(i));
      const rest = ids.filter((_, i) => !all && !named.has(i));
      if (refused.length) await this.#drop(refused, 'rejected', `Refused (${status}): ${text}`, status);
      // After a 4xx the others were not stored: they go again, without the refused ones.
      if (outcome.kind === 'drop') {
        queue.release(rest);
        return 'sent';
      }
      this.#failures = 0;
      for (const id of rest) this.#attempts.delete(id);
      await queue.ack(rest);
      this.#o.settled?.(rest);
      this.#o.emitter.emit('flush', { count: rest.length, messageIds: rest });
      return 'sent';
    }

    const exhausted: WireEvent[] = [];
    const again: string[] = [];
    for (const e of batch) {
      const n = (this.#attempts.get(e.messageId) ?? 0) + (outcome.unavailable ? 0 : 1);
      this.#attempts.set(e.messageId, n);
      if (n > this.#o.maxRetries) exhausted.push(e);
      else again.push(e.messageId);
    }
    if (exhausted.length) {
      const message = `Gave up after ${this.#o.maxRetries} retries (${status ?? 'no answer'})`;
      await this.#drop(exhausted, 'retries_exhausted', message, status);
    }
    queue.release(again);
    if (!again.length) return 'sent';
    const delay = outcome.after ?? backoff(this.#failures++, this.#o.backoff);
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = undefined;
      void this.run();
    }, delay);
    return 'wait';
  }
}
