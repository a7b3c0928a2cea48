import { clear, createStore, delMany, getMany, keys, set, type UseStore } from 'idb-keyval';
import type { DropHandler, EventQueue } from '../core/queue';
import type { WireEvent } from '../core/wire';

interface Own {
  event: WireEvent;
  key: string;
  /** The write to IndexedDB completed, so its absence there means another tab delivered it. */
  stored: boolean;
}

/** Keys sort by time, so the oldest event (across every tab of the site) comes first. */
const keyOf = (e: WireEvent) => `${String(Date.now()).padStart(15, '0')}:${e.messageId}`;
const idOf = (key: string) => key.slice(16);

/**
 * The browser's queue: events persisted in IndexedDB (through idb-keyval) so a reload, a crash or
 * going offline loses nothing; every tab of the site sees the same queue. Leasing happens under the
 * cross-tab lock (see `tab-lock.ts`), so two tabs never send one event. Where IndexedDB is missing
 * or fails, it goes on in memory with the events this tab queued.
 *
 * @example
 * const q = new IdbQueue('tributary-wk_123', 1000, (ids) => console.warn('dropped', ids));
 */
export class IdbQueue implements EventQueue {
  readonly #store: UseStore | undefined;
  /** This tab's events not yet acknowledged: what leaves on pagehide, and all there is without IndexedDB. */
  readonly #own = new Map<string, Own>();
  readonly #leased = new Map<string, string>();
  readonly #writes = new Set<Promise<void>>();
  #count = 0;
  #memoryOnly: boolean;

  constructor(
    name: string,
    readonly maxSize: number,
    readonly onDrop: DropHandler,
    readonly onStorageError: (error: unknown) => void = () => {},
  ) {
    this.#memoryOnly = typeof indexedDB === 'undefined';
    this.#store = this.#memoryOnly ? undefined : createStore(name, 'events');
  }

  /** True when events live only in this tab's memory. */
  get memoryOnly(): boolean {
    return this.#memoryOnly;
  }

  #fail(error: unknown) {
    if (!this.#memoryOnly) this.onStorageError(error);
    this.#memoryOnly = true;
  }

  push(event: WireEvent): Promise<void> {
    const own: Own = { event, key: keyOf(event), stored: false };
    this.#own.set(event.messageId, own);
    this.#count++;
    if (this.#memoryOnly || !this.#store) return Promise.resolve(this.#trimOwn());
    const write = set(own.key, event, this.#store).then(
      () => {
        own.stored = true;
      },
      (e) => this.#fail(e),
    );
    this.#writes.add(write);
    void write.finally(() => this.#writes.delete(write));
    return write;
  }

  /** Without IndexedDB the bound applies to this tab's memory. */
  #trimOwn() {
    const dropped: string[] = [];
    for (const id of this.#own.keys()) {
      if (this.#own.size <= this.maxSize) break;
      this.#own.delete(id);
      dropped.push(id);
    }
    this.#count = this.#own.size;
    if (dropped.length) this.onDrop(dropped);
  }

  async lease(max: number): Promise<WireEvent[]> {
    await Promise.all(this.#writes);
    if (!this.#memoryOnly && this.#store) {
      try {
        return await this.#leaseStored(max, this.#store);
      } catch (e) {
        this.#fail(e);
      }
    }
    const out: WireEvent[] = [];
    for (const [id, own] of this.#own) {
      if (out.length >= max) break;
      if (this.#leased.has(id)) continue;
      this.#leased.set(id, own.key);
      out.push(own.event);
    }
    return out;
  }

  async #leaseStored(max: number, store: UseStore): Promise<WireEvent[]> {
    let all = (await keys<string>(store)).sort();
    // A full queue drops its oldest events, so a site offline for days does not fill the disk.
    if (all.length > this.maxSize) {
      const dropped = all.slice(0, all.length - this.maxSize);
      await delMany(dropped, store);
      all = all.slice(dropped.length);
      for (const k of dropped) this.#own.delete(idOf(k));
      this.onDrop(dropped.map(idOf));
    }
    this.#count = all.length;
    // Events of this tab that were stored and are gone were delivered by another tab.
    const present = new Set(all.map(idOf));
    for (const [id, own] of this.#own) if (own.stored && !present.has(id)) this.#own.delete(id);

    const picked = all.filter((k) => !this.#leased.has(idOf(k))).slice(0, max);
    const values = await getMany<WireEvent | undefined>(picked, store);
    const out: WireEvent[] = [];
    picked.forEach((k, i) => {
      const e = values[i];
      if (!e) return;
      this.#leased.set(e.messageId, k);
      out.push(e);
    });
    return out;
  }

  async ack(messageIds: readonly string[]): Promise<void> {
    const ks: string[] = [];
    for (const id of messageIds) {
      const k = this.#leased.get(id) ?? this.#own.get(id)?.key;
      if (k) ks.push(k);
      this.#leased.delete(id);
      this.#own.delete(id);
    }
    this.#count = Math.max(0, this.#count - ks.length);
    if (this.#memoryOnly || !this.#store) return;
    try {
      await delMany(ks, this.#store);
    } catch (e) {
      this.#fail(e);
    }
  }

  release(messageIds: readonly string[]): void {
    for (const id of messageIds) this.#leased.delete(id);
  }

  available(): number {
    return Math.max(0, this.#count - this.#leased.size);
  }

  /** Events this tab queued and the collector has not acknowledged yet, oldest first. */
  pending(): WireEvent[] {
    return [...this.#own.values()].map((o) => o.event);
  }

  /** Marks events as in flight outside `lease` (the keepalive send on pagehide). */
  hold(messageIds: readonly string[]): void {
    for (const id of messageIds) {
      const own = this.#own.get(id);
      if (own) this.#leased.set(id, own.key);
    }
  }

  async clear(): Promise<void> {
    this.#own.clear();
    this.#leased.clear();
    this.#count = 0;
    if (this.#store && !this.#memoryOnly) await clear(this.#store).catch((e) => this.#fail(e));
  }
}
