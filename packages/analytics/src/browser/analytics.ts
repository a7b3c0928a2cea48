import { batchBody, chunk, eventBytes, MAX_BATCH_BYTES, MAX_EVENT_BYTES, MAX_KEEPALIVE_BYTES } from '../core/batcher';
import { CONSENT_EVENT, CONSENT_KEY, type Collecting, cleanPreferences, collecting } from '../core/consent';
import { Delivery, type DeliveryEvents } from '../core/delivery';
import { Emitter } from '../core/emitter';
import { TributaryError } from '../core/errors';
import { buildEvent, type CallFields } from '../core/event-builder';
import { Identity, type User } from '../core/identity';
import { applyPlugins, type Plugin } from '../core/plugins';
import { DEFAULT_SESSION_TIMEOUT, touchSession } from '../core/session';
import { type KeyValueStore, memoryStore } from '../core/storage';
import { VERSION } from '../core/version';
import type { CallOptions, CallType, ConsentPreferences, EventContext, Properties, WireEvent } from '../core/wire';
import { IdbQueue } from './idb-queue';
import { browserContext, pageProperties } from './page-context';
import { bothStores, cookieDomain, cookieStore, gatedStore, localStore } from './storage';
import { tabLock } from './tab-lock';
import { fetchTransport, unloadTransport } from './transport';

export interface BrowserOptions {
  /** The source's write key (public: it can only send events). */
  writeKey: string;
  /** The collector's origin, e.g. `https://collector.example.com`. */
  host: string;
  /** Send as soon as this many events wait (default 20). */
  flushAt?: number;
  /** ... or this many ms after the first of them (default 1000). */
  flushInterval?: number;
  /** Events kept while they cannot be sent; the oldest go first (default 1000). */
  maxQueueSize?: number;
  /** A new session after this many ms without activity (default 30 minutes). */
  sessionTimeout?: number;
  /** Send `page()` once on load (default true). */
  initialPageview?: boolean;
  /** Collect nothing, store nothing, until `consent({ analytics: true })` (default false). */
  requireConsent?: boolean;
  /** Cookie domain for the anonymous ID (default: the widest the browser allows, so subdomains share it). */
  cookieDomain?: string;
  /** Backoff between retries, in ms (default 500 to 30,000). */
  retry?: { minDelay: number; maxDelay: number };
  plugins?: Plugin[];
  /** Told about events dropped or refused. */
  onError?: (error: TributaryError) => void;
}

export interface Analytics {
  /** Records an action. `options.eventType` names the spec event type (`'PURCHASE'` ...). */
  track(event: string, properties?: Properties, options?: CallOptions): void;
  /** Records a page view; the page's url, path, title, referrer and search are filled in. */
  page(
    category?: string | Properties,
    name?: string | Properties,
    properties?: Properties | CallOptions,
    options?: CallOptions,
  ): void;
  /** Says who the visitor is; the userId and traits are remembered for later events. */
  identify(userId?: string | Properties, traits?: Properties | CallOptions, options?: CallOptions): void;
  /** Associates the visitor with a company, account or team. */
  group(groupId: string, traits?: Properties, options?: CallOptions): void;
  /** Links `previousId` (default: the current ID) to `userId`. */
  alias(userId: string, previousId?: string, options?: CallOptions): void;
  /** Forgets the user (logout): a new anonymous ID from now on. */
  reset(): void;
  /** Records the visitor's consent choice, e.g. `{ analytics: true, marketing: false }`. */
  consent(preferences: ConsentPreferences): void;
  /** Sends what is queued now; resolves after one attempt (failures are retried later). */
  flush(): Promise<void>;
  /** Resolves (and calls `callback`) once the queue's storage is open. */
  ready(callback?: () => void): Promise<void>;
  /** The remembered identity. */
  user(): User;
  /** Listens to `error` (events dropped or refused) and `flush` (a batch acknowledged). */
  on<K extends keyof DeliveryEvents>(type: K, listener: (payload: DeliveryEvents[K]) => void): () => void;
}

const LIBRARY = { name: '@tributary/analytics', version: VERSION };
const PRE_CONSENT_MAX = 100;

/**
 * Creates the browser SDK. It sends `page()` once unless `initialPageview: false`.
 *
 * @example
 * import { createAnalytics } from '@tributary/analytics';
 * const analytics = createAnalytics({ writeKey: 'wk_...', host: 'https://collector.example.com' });
 * analytics.track('Quote Requested', { product: 'home' }, { eventType: 'QUOTE_REQUEST' });
 */
export function createAnalytics(options: BrowserOptions): Analytics {
  const o = {
    flushAt: 20,
    flushInterval: 1000,
    maxQueueSize: 1000,
    sessionTimeout: DEFAULT_SESSION_TIMEOUT,
    initialPageview: true,
    requireConsent: false,
    retry: { minDelay: 500, maxDelay: 30_000 },
    plugins: [],
    ...options,
  } satisfies BrowserOptions;
  const host = o.host.replace(/\/+$/, '');
  const url = `${host}/v1/batch`;
  const emitter = new Emitter<DeliveryEvents>();
  if (o.onError) emitter.on('error', o.onError);
  const report = (code: TributaryError['code'], message: string, messageIds: string[] = []) =>
    emitter.emit('error', new TributaryError(code, message, { messageIds }));

  // The consent choice itself is always kept: it is what allows or forbids keeping the rest.
  const local: KeyValueStore = localStore() ?? memoryStore();
  let preferences: ConsentPreferences | null = null;
  try {
    preferences = JSON.parse(local.get(CONSENT_KEY) ?? 'null');
  } catch {
    // A garbled choice counts as none.
  }
  let state: Collecting = collecting(preferences, o.requireConsent);
  const open = () => state === 'yes';
  const ids = gatedStore(bothStores([cookieStore(o.cookieDomain ?? cookieDomain()), local]), open);
  const data = gatedStore(local, open);
  const identity = new Identity(ids, data);

  const queue = new IdbQueue(
    `tributary-${o.writeKey}`,
    o.maxQueueSize,
    (dropped) => report('queue_overflow', 'Queue full: oldest dropped', dropped),
    (e) => report('storage', `IndexedDB: ${e}`),
  );
  const delivery = new Delivery({
    queue,
    transport: fetchTransport,
    url,
    writeKey: o.writeKey,
    batchEvents: 500,
    batchBytes: MAX_BATCH_BYTES,
    flushAt: o.flushAt,
    flushInterval: o.flushInterval,
    maxRetries: Number.POSITIVE_INFINITY,
    backoff: o.retry,
    concurrency: 1,
    emitter,
    exclusive: tabLock(`tributary-${o.writeKey}`),
  });
  // Events made before consent was given: in memory only, sent if it is granted, gone if denied.
  let preConsent: WireEvent[] = [];

  const context = (): EventContext => {
    const ctx: EventContext = {
      ...browserContext(),
      library: LIBRARY,
      sessionId: touchSession(data, Date.now(), o.sessionTimeout),
    };
    if (preferences) ctx.consent = { categoryPreferences: preferences };
    return ctx;
  };

  const enqueue = (event: WireEvent) => {
    void queue.push(event);
    delivery.schedule();
  };

  const call = (type: CallType, fields: CallFields, callOptions?: CallOptions, always = false) => {
    if (state === 'no' && !always) return;
    const user = identity.user();
    const built = buildEvent(
      type,
      fields,
      { anonymousId: user.anonymousId, userId: user.userId ?? undefined },
      context(),
      callOptions,
    );
    const event = applyPlugins(o.plugins, built);
    if (!event) return;
    if (eventBytes(event) > MAX_EVENT_BYTES) {
      report('event_too_large', 'Event over 32 KB', [event.messageId]);
      return;
    }
    if (state === 'pending') {
      preConsent.push(event);
      if (preConsent.length > PRE_CONSENT_MAX) preConsent.shift();
    } else enqueue(event);
  };

  // Keepalive requests outlive the page; what they carry is acknowledged if the page lives to hear back.
  const keptAlive = new Set<string>();
  const sendBeforeLeaving = () => {
    if (state !== 'yes') return;
    const events = queue.pending().filter((e) => !keptAlive.has(e.messageId));
    for (const part of chunk(events, MAX_KEEPALIVE_BYTES, 500)) {
      const partIds = part.map((e) => e.messageId);
      for (const id of partIds) keptAlive.add(id);
      queue.hold(partIds);
      unloadTransport(url, batchBody(part, o.writeKey))
        .then(
          (res) => {
            if (res.status >= 200 && res.status < 300) return queue.ack(partIds);
            queue.release(partIds);
          },
          () => queue.release(partIds),
        )
        .finally(() => {
          for (const id of partIds) keptAlive.delete(id);
        });
    }
  };
  addEventListener('pagehide', sendBeforeLeaving);
  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'hidden') sendBeforeLeaving();
  });
  addEventListener('online', () => void delivery.flush());

  // Opening IndexedDB creates it, so a visitor who has not consented does not get even an empty one.
  const ready =
    state === 'yes'
      ? queue.lease(0).then(() => void delivery.flush()) /* what earlier pages left */
      : Promise.resolve();

  const analytics: Analytics = {
    track(event, properties, callOptions) {
      call('track', { event, properties: properties ?? {} }, callOptions);
    },
    page(category, name, properties, callOptions) {
      // analytics.js's forms: page(), page(name), page(category, name), page(properties), each with properties and options after.
      const args: unknown[] = [category, name, properties, callOptions];
      while (typeof args[1] !== 'string' && args.length < 6) args.unshift(undefined);
      const [cat, pageName, props, opts] = args.slice(0, 4) as [string?, string?, Properties?, CallOptions?];
      call('page', { category: cat, name: pageName, properties: { ...pageProperties(), ...props } }, opts);
    },
    identify(userId, traits, callOptions) {
      const [id, t, opts] = (
        typeof userId === 'object' ? [undefined, userId, traits] : [userId, traits, callOptions]
      ) as [string?, Properties?, CallOptions?];
      if (state === 'no') return;
      const user = identity.identify(id, t);
      call('identify', { traits: user.traits }, opts);
    },
    group(groupId, traits, callOptions) {
      call('group', { groupId, traits: traits ?? {} }, callOptions);
    },
    alias(userId, previousId, callOptions) {
      const user = identity.user();
      call('alias', { previousId: previousId ?? user.userId ?? user.anonymousId }, { ...callOptions, userId });
    },
    reset() {
      identity.reset();
    },
    consent(input) {
      const before = state;
      preferences = { ...preferences, ...cleanPreferences(input) };
      local.set(CONSENT_KEY, JSON.stringify(preferences));
      state = collecting(preferences, o.requireConsent);
      const categoryPreferences = preferences;
      if (state === 'yes') {
        ids.commit();
        data.commit();
        for (const e of preConsent) enqueue({ ...e, context: { ...e.context, consent: { categoryPreferences } } });
        preConsent = [];
      } else {
        ids.discard();
        data.discard();
        preConsent = [];
        if (state === 'no' && before === 'yes') void queue.clear(); // never opened before consent
      }
      // The collector records the choice from this event; a visitor who never consented is never sent anything.
      if (state === 'yes' || before === 'yes') {
        const saved = state;
        state = 'yes';
        call('track', { event: CONSENT_EVENT, properties: { categoryPreferences } }, {}, true);
        state = saved;
      }
    },
    flush: () => delivery.flush(),
    ready(callback) {
      return ready.then(() => callback?.());
    },
    user: () => identity.user(),
    on: (type, listener) => emitter.on(type, listener),
  };

  if (o.initialPageview) analytics.page();
  return analytics;
}
