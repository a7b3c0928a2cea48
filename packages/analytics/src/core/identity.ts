import type { KeyValueStore } from './storage';
import { uuid } from './uuid';
import type { Properties } from './wire';

/** Storage keys (Segment's `ajs_*` names are avoided so both libraries can run on one site). */
export const ANONYMOUS_ID_KEY = 'tributary_anonymous_id';
export const USER_ID_KEY = 'tributary_user_id';
export const TRAITS_KEY = 'tributary_user_traits';

/** Who the visitor is, as the SDK remembers it. */
export interface User {
  anonymousId: string;
  userId: string | null;
  traits: Properties;
}

/**
 * The visitor's identity: an anonymous ID created once and kept, the userId and traits of the
 * last identify. IDs live in `ids` (cookie and localStorage in browsers, so subdomains share
 * them), traits in `data` (localStorage: too large for a cookie).
 *
 * @example
 * const id = new Identity(ids, data); id.identify('u1', { plan: 'pro' }); id.user().userId // 'u1'
 */
export class Identity {
  constructor(
    readonly ids: KeyValueStore,
    readonly data: KeyValueStore,
  ) {}

  /** The anonymous ID, created on first use. */
  anonymousId(): string {
    let id = this.ids.get(ANONYMOUS_ID_KEY);
    if (!id) {
      id = uuid();
      this.ids.set(ANONYMOUS_ID_KEY, id);
    }
    return id;
  }

  user(): User {
    let traits: Properties = {};
    try {
      traits = JSON.parse(this.data.get(TRAITS_KEY) ?? '{}') ?? {};
    } catch {
      // Garbled traits are forgotten rather than break every call.
    }
    return { anonymousId: this.anonymousId(), userId: this.ids.get(USER_ID_KEY), traits };
  }

  /**
   * Remembers the userId and merges the traits. A different userId than the remembered one is
   * a different person: their traits start afresh.
   */
  identify(userId: string | undefined, traits: Properties = {}): User {
    const before = this.user();
    const sameUser = !userId || userId === before.userId;
    if (userId) this.ids.set(USER_ID_KEY, userId);
    const merged = { ...(sameUser ? before.traits : {}), ...traits };
    this.data.set(TRAITS_KEY, JSON.stringify(merged));
    return this.user();
  }

  /** Forgets the user and starts a new anonymous ID (logout). */
  reset(): void {
    this.ids.remove(USER_ID_KEY);
    this.ids.remove(ANONYMOUS_ID_KEY);
    this.data.remove(TRAITS_KEY);
  }
}
