import { eventBytes, MAX_BATCH_BYTES, MAX_BATCH_EVENTS, MAX_EVENT_BYTES } from '../core/batcher';
import { Delivery, type DeliveryEvents } from '../core/delivery';
import { Emitter } from '../core/emitter';
import { TributaryError } from '../core/errors';
import { buildEvent, type CallFields } from '../core/event-builder';
import { applyPlugins, type Plugin } from '../core/plugins';
import { MemoryQueue } from '../core/queue';
import { VERSION } from '../core/version';
import type { CallOptions, CallType, EventType, Properties } from '../core/wire';
import { nodeTransport } from './transport';

export interface NodeOptions {
  /** The source's write key. */
  writeKey: string;
  /** The collector's origin (default `http://localhost:3002`). */
  host?: string;
  /** Events per batch: a batch leaves as soon as this many wait (default 20; 1 sends each at once). */
  flushAt?: number;
  /** ... or this many ms after the first of them (default 10,000). */
  flushInterval?: number;
  /** Events held while they cannot be sent; the oldest are dropped first, with an `error` (default 100,000). */
  maxQueueSize?: number;
  /**
   * Retries of a failed batch before its events are dropped, with an `error` (default 3). Only
   * failures that may be the batch's count (500, 408 ...): through an outage (no answer, a timeout,
   * 502, 503, 504, 429) events are kept and retried until `maxQueueSize` is reached.
   */
  maxRetries?: number;
  /** Batches in flight at once (default 4). */
  concurrency?: number;
  /** Backoff between retries, in ms (default 100 to 10,000). */
  retry?: { minDelay: number; maxDelay: number };
  /** Request timeout in ms (default 10,000). */
  timeout?: number;
  /** Send what is queued when the process is about to exit (default true). */
  flushOnExit?: boolean;
  plugins?: Plugin[];
}

/** Who a server-side call is about: a userId, an anonymousId, or both. */
export type Who = { userId: string; anonymousId?: string } | { userId?: string; anonymousId: string };

/** What every call may add: the event's time, extra context, your own messageId. */
type Extras = Omit<CallOptions, 'userId' | 'anonymousId' | 'eventType'>;

export type TrackParams = Who & Extras & { event: string; properties?: Properties; eventType?: EventType };
export type IdentifyParams = Who & Extras & { traits?: Properties };
export type PageParams = Who & Extras & { name?: string; category?: string; properties?: Properties };
export type GroupParams = Who & Extras & { groupId: string; traits?: Properties };
export type AliasParams = Extras & { userId: string; previousId: string };

/** Called once the event was acknowledged (no error) or dropped (with the reason). */
export type Callback = (error?: TributaryError) => void;

/** How `closeAndFlush` ended: everything acknowledged, or the timeout passed with `pending` events unsent. */
export interface CloseResult {
  status: 'flushed' | 'timeout';
  pending: number;
}

const LIBRARY = { name: '@tributary/analytics/node', version: VERSION };

/**
 * The Node SDK, shaped like analytics-node: calls are queued in memory and sent in batches by count
 * and time, retried with backoff, and reported through `on('error' | 'flush')`. On serverless
 * platforms, `await analytics.flush()` before the handler returns.
 *
 * @example
 * import { Analytics } from '@tributary/analytics/node';
 * const analytics = new Analytics({ writeKey: 'wk_...', host: 'https://collector.example.com' });
 * analytics.track({ userId: 'u1', event: 'Order Completed', eventType: 'PURCHASE', properties: { total: 42 } });
 * await analytics.closeAndFlush({ timeout: 5000 });
 */
export class Analytics {
  readonly #emitter = new Emitter<DeliveryEvents>();
  readonly #queue: MemoryQueue;
  readonly #delivery: Delivery;
  readonly #plugins: Plugin[];
  readonly #callbacks = new Map<string, Callback>();
  #closed = false;
  readonly #onExit = () => void this.flush();

  constructor(options: NodeOptions) {
    const o = {
      host: 'http://localhost:3002',
      flushAt: 20,
      flushInterval: 10_000,
      maxQueueSize: 100_000,
      maxRetries: 3,
      concurrency: 4,
      retry: { minDelay: 100, maxDelay: 10_000 },
      timeout: 10_000,
      flushOnExit: true,
      plugins: [],
      ...options,
    } satisfies Required<NodeOptions>;
    if (!o.writeKey) throw new TributaryError('invalid_call', 'writeKey is required');
    this.#plugins = o.plugins;
    this.#queue = new MemoryQueue(o.maxQueueSize, (dropped) =>
      this.#settle(
        dropped,
        new TributaryError('queue_overflow', `The queue was full: dropped the ${dropped.length} oldest events`, {
          messageIds: dropped,
        }),
        true,
      ),
    );
    const batchEvents = Math.min(Math.max(1, o.flushAt), MAX_BATCH_EVENTS);
    this.#delivery = new Delivery({
      queue: this.#queue,
      transport: nodeTransport(o.writeKey, o.timeout),
      url: `${o.host.replace(/\/+$/, '')}/v1/batch`,
      batchEvents,
      batchBytes: MAX_BATCH_BYTES,
      flushAt: batchEvents,
      flushInterval: o.flushInterval,
      maxRetries: o.maxRetries,
      backoff: o.retry,
      concurrency: o.concurrency,
      emitter: this.#emitter,
      settled: (ids, error) => this.#settle(ids, error),
    });
    if (o.flushOnExit) process.once('beforeExit', this.#onExit);
  }

  #settle(ids: readonly string[], error?: TributaryError, report = false) {
    if (report && error) this.#emitter.emit('error', error);
    if (!this.#callbacks.size) return;
    for (const id of ids) {
      const cb = this.#callbacks.get(id);
      if (!cb) continue;
      this.#callbacks.delete(id);
      cb(error);
    }
  }

  #call(type: CallType, fields: CallFields, params: Who & Extras & { eventType?: EventType }, callback?: Callback) {
    const fail = (message: string) => {
      const error = new TributaryError('invalid_call', message);
      this.#emitter.emit('error', error);
      callback?.(error);
    };
    if (type === 'track' && !fields.event) return fail('track needs an event name');
    if (this.#closed) return fail(`${type} after closeAndFlush(): the client is closed`);
    if (!params.userId && !params.anonymousId) return fail(`${type} needs a userId or an anonymousId`);
    const { userId, anonymousId, timestamp, context, messageId, integrations, eventType } = params;
    const built = buildEvent(
      type,
      fields,
      { userId, anonymousId },
      { library: LIBRARY },
      {
        ...(eventType ? { eventType } : {}),
        ...(timestamp ? { timestamp } : {}),
        ...(context ? { context } : {}),
        ...(messageId ? { messageId } : {}),
        ...(integrations ? { integrations } : {}),
      },
    );
    const event = this.#plugins.length ? applyPlugins(this.#plugins, built) : built;
    if (!event) return callback?.();
    if (eventBytes(event) > MAX_EVENT_BYTES) return fail(`A ${type} event is larger than 32 KB`);
    if (callback) this.#callbacks.set(event.messageId, callback);
    this.#queue.push(event);
    this.#delivery.schedule();
  }

  /**
   * Records what a user did.
   *
   * @example
   * analytics.track({ userId: 'u1', event: 'Quote Requested', eventType: 'QUOTE_REQUEST', properties: { product: 'auto' } });
   */
  track(params: TrackParams, callback?: Callback): void {
    this.#call('track', { event: params.event, properties: params.properties ?? {} }, params, callback);
  }

  /**
   * Says who a user is and what is known about them; links an anonymousId sent along to the userId.
   *
   * @example
   * analytics.identify({ userId: 'u1', anonymousId: req.cookies.tributary_anonymous_id, traits: { email: 'a@b.co' } });
   */
  identify(params: IdentifyParams, callback?: Callback): void {
    this.#call('identify', { traits: params.traits ?? {} }, params, callback);
  }

  /**
   * Records a page view rendered by the server.
   *
   * @example
   * analytics.page({ userId: 'u1', name: 'Pricing', properties: { url: 'https://example.com/pricing' } });
   */
  page(params: PageParams, callback?: Callback): void {
    const { name, category, properties } = params;
    this.#call('page', { name, category, properties: properties ?? {} }, params, callback);
  }

  /**
   * Associates a user with a company, account or team.
   *
   * @example
   * analytics.group({ userId: 'u1', groupId: 'acme', traits: { plan: 'enterprise' } });
   */
  group(params: GroupParams, callback?: Callback): void {
    this.#call('group', { groupId: params.groupId, traits: params.traits ?? {} }, params, callback);
  }

  /**
   * Links a previous ID (an anonymousId, an old userId) to a userId.
   *
   * @example
   * analytics.alias({ previousId: 'anon-123', userId: 'u1' });
   */
  alias(params: AliasParams, callback?: Callback): void {
    this.#call('alias', { previousId: params.previousId }, params, callback);
  }

  /**
   * Sends everything queued now; resolves once each event was acknowledged or dropped.
   *
   * @example
   * export default async function handler(req) { analytics.track({ ... }); await analytics.flush(); }
   */
  async flush(): Promise<void> {
    await this.#delivery.flush();
    await this.#delivery.idle();
  }

  /**
   * Refuses new calls, sends what is queued, and resolves when all of it was acknowledged (or
   * dropped after its retries) or when `timeout` ms passed, saying which.
   *
   * @example
   * const { status, pending } = await analytics.closeAndFlush({ timeout: 5000 }); // 'flushed', 0
   */
  async closeAndFlush({ timeout = 10_000 }: { timeout?: number } = {}): Promise<CloseResult> {
    this.#closed = true;
    process.off('beforeExit', this.#onExit);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), timeout);
    });
    const status = await Promise.race([this.flush().then(() => 'flushed' as const), timedOut]);
    clearTimeout(timer);
    this.#delivery.close();
    return { status, pending: this.#queue.all().length };
  }

  /**
   * Listens to `error` (events dropped or refused, with the reason) and `flush` (a batch acknowledged).
   *
   * @example
   * analytics.on('error', (err) => logger.warn({ code: err.code, ids: err.messageIds }, err.message));
   */
  on<K extends keyof DeliveryEvents>(type: K, listener: (payload: DeliveryEvents[K]) => void): () => void {
    return this.#emitter.on(type, listener);
  }
}
