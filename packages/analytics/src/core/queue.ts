import type { WireEvent } from './wire';

/**
 * Where events wait until the collector acknowledges them. An event is leased while a batch
 * carrying it is in flight, then acknowledged (removed) or released (available again), so a
 * failed send never loses it and two concurrent sends never carry the same event.
 */
export interface EventQueue {
  /** Adds an event; a full queue drops its oldest and reports them through `onDrop`. */
  push(event: WireEvent): void | Promise<void>;
  /** Up to `max` events, oldest first, that are not already leased. */
  lease(max: number): WireEvent[] | Promise<WireEvent[]>;
  /** Removes delivered (or deliberately dropped) events. */
  ack(messageIds: readonly string[]): void | Promise<void>;
  /** Makes leased events available again, keeping their place. */
  release(messageIds: readonly string[]): void;
  /** Events waiting and not leased. */
  available(): number;
  /** Removes everything. */
  clear(): void | Promise<void>;
}

/** Called with the messageIds of the events a full queue dropped. */
export type DropHandler = (messageIds: string[]) => void;

/**
 * A bounded in-memory queue (Node, and browsers without IndexedDB). A Map keeps insertion order,
 * so leasing walks from the oldest and acknowledging is O(1) whatever the queue's length.
 *
 * @example
 * const q = new MemoryQueue(10_000, (dropped) => console.warn(dropped.length, 'dropped'));
 */
export class MemoryQueue implements EventQueue {
  readonly #events = new Map<string, WireEvent>();
  readonly #leased = new Set<string>();

  constructor(
    readonly maxSize = 10_000,
    readonly onDrop: DropHandler = () => {},
  ) {}

  push(event: WireEvent): void {
    this.#events.set(event.messageId, event);
    if (this.#events.size <= this.maxSize) return;
    const dropped: string[] = [];
    for (const id of this.#events.keys()) {
      if (this.#events.size <= this.maxSize) break;
      this.#events.delete(id);
      this.#leased.delete(id);
      dropped.push(id);
    }
    this.onDrop(dropped);
  }

  lease(max: number): WireEvent[] {
    const out: WireEvent[] = [];
    for (const [id, e] of this.#events) {
      if (out.length >= max) break;
      if (this.#leased.has(id)) continue;
      this.#leased.add(id);
      out.push(e);
    }
    return out;
  }

  ack(messageIds: readonly string[]): void {
    for (const id of messageIds) {
      this.#events.delete(id);
      this.#leased.delete(id);
    }
  }

  release(messageIds: readonly string[]): void {
    for (const id of messageIds) this.#leased.delete(id);
  }

  available(): number {
    return this.#events.size - this.#leased.size;
  }

  /** Every event not yet acknowledged, leased or not, oldest first. */
  all(): WireEvent[] {
    return [...this.#events.values()];
  }

  clear(): void {
    this.#events.clear();
    this.#leased.clear();
  }
}
