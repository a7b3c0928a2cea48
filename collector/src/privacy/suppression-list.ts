import type { Db } from '../db/client';
import { suppressions } from '../db/schema';
import { normalizeIdentity } from '../identity/normalize-identity';
import type { EventSummary } from '../ingest/event-row';
import { blindIndex, type Keyring } from './encryption';

/**
 * The identifiers whose events are not stored, held in memory (as keyed hashes) so ingestion checks
 * them without a query. Loaded from the database at start and refreshed periodically, so a suppression
 * survives restarts and reaches every collector process.
 */
export class SuppressionList {
  readonly #db: Db;
  readonly #keyring: Keyring;
  #entries = new Set<string>();
  #timer: NodeJS.Timeout | undefined;

  constructor(db: Db, keyring: Keyring) {
    this.#db = db;
    this.#keyring = keyring;
  }

  async reload() {
    const rows = await this.#db
      .select({ type: suppressions.identityType, hash: suppressions.identityHash })
      .from(suppressions);
    this.#entries = new Set(rows.map((r) => `${r.type}:${r.hash}`));
  }

  /** Reloads every `intervalMs` (for changes made through another process). */
  start(intervalMs = 30_000) {
    this.#timer = setInterval(() => void this.reload().catch(() => undefined), intervalMs);
    this.#timer.unref();
  }

  stop() {
    clearInterval(this.#timer);
  }

  get size() {
    return this.#entries.size;
  }

  #has(type: 'EXTERNAL_ID' | 'COOKIE_ID', value: string | null) {
    const normalized = value && normalizeIdentity(type, value);
    return !!normalized && this.#entries.has(`${type}:${blindIndex(this.#keyring, type, normalized)}`);
  }

  /** Whether an event was sent by a suppressed userId or anonymous ID. */
  suppresses(event: Pick<EventSummary, 'user_id' | 'anonymous_id'>): boolean {
    if (!this.#entries.size) return false;
    return this.#has('EXTERNAL_ID', event.user_id) || this.#has('COOKIE_ID', event.anonymous_id);
  }
}
