type Listener<T> = (payload: T) => void;

/**
 * A tiny typed event emitter (Node's EventEmitter is not in browsers, and it throws on an
 * `error` nobody listens to, which a tracking library must never do).
 *
 * @example
 * const e = new Emitter<{ flush: { count: number } }>(); e.on('flush', ({ count }) => console.log(count));
 */
export class Emitter<Events extends Record<string, unknown>> {
  #listeners: { [K in keyof Events]?: Listener<Events[K]>[] } = {};

  /** Calls `listener` on every `type` event; returns a function that stops it. */
  on<K extends keyof Events>(type: K, listener: Listener<Events[K]>): () => void {
    const list = this.#listeners[type] ?? [];
    list.push(listener);
    this.#listeners[type] = list;
    return () => this.off(type, listener);
  }

  /** Stops calling `listener`. */
  off<K extends keyof Events>(type: K, listener: Listener<Events[K]>): void {
    this.#listeners[type] = this.#listeners[type]?.filter((l) => l !== listener);
  }

  /** Calls the listeners; one that throws does not stop the others or the SDK. */
  emit<K extends keyof Events>(type: K, payload: Events[K]): void {
    for (const l of this.#listeners[type] ?? []) {
      try {
        l(payload);
      } catch {
        // A listener's bug must not break delivery.
      }
    }
  }
}
