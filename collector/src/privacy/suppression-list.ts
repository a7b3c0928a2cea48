import { eq } from 'drizzle-orm';
import type { Db } from '../db/client';
import { regulations, suppressions } from '../db/schema';
import { normalizeIdentity } from '../identity/normalize-identity';
import { identifierKey } from '../ingest/carried-identifiers';
import type { EventSummary } from '../ingest/event-row';
import type { Keyring } from './encryption';

/**
 * The identifiers whose events are not stored, held in memory (as keyed hashes) so ingestion checks
 * them without a query. Loaded from the database at start and reloaded whenever any process changes
 * it (revocation-feed.ts), so a suppression survives restarts and reaches every collector process.
 */
export class SuppressionList {
  readonly #db: Db;
  readonly #keyring: Keyring;
  /** `TYPE:hash` of every suppressed identifier (identifierKey). */
  #entries = new Set<string>();
  /** The customers the suppressing regulations named, for calls that name a customer by ID. */
  #customers = new Set<string>();
  #reloadsStarted = 0;
  #reloadApplied = 0;

  constructor(db: Db, keyring: Keyring) {
    this.#db = db;
    this.#keyring = keyring;
  }

  async reload() {
    const reload = ++this.#reloadsStarted;
    const rows = await this.#db
      .select({ type: suppressions.identityType, hash: suppressions.identityHash, customerId: regulations.customerId })
      .from(suppressions)
      .leftJoin(regulations, eq(regulations.id, suppressions.regulationId));
    // Reloads may overlap (a notice arrives while one runs): one that began later read later data,
    // so an earlier one finishing after it must not put older contents back.
    if (reload < this.#reloadApplied) return;
    this.#reloadApplied = reload;
    this.#entries = new Set(rows.map((r) => `${r.type}:${r.hash}`));
    this.#customers = new Set(rows.flatMap((r) => (r.customerId ? [r.customerId] : [])));
  }

  get size() {
    return this.#entries.size;
  }

  #has(type: 'EXTERNAL_ID' | 'COOKIE_ID', value: string | null) {
    const normalized = value && normalizeIdentity(type, value);
    return !!normalized && this.#entries.has(identifierKey(this.#keyring, type, normalized));
  }

  /**
   * Whether an event names a suppressed person: by its userId, anonymous ID, customer ID, or any
   * identifier it carries (an email or phone in its traits, an alias's previousId).
   */
  suppresses(event: Pick<EventSummary, 'user_id' | 'anonymous_id' | 'customer_id' | 'identifiers'>): boolean {
    if (!this.#entries.size) return false;
    if (event.identifiers?.some((key) => this.#entries.has(key))) return true;
    if (event.customer_id && this.#customers.has(event.customer_id)) return true;
    return this.#has('EXTERNAL_ID', event.user_id) || this.#has('COOKIE_ID', event.anonymous_id);
  }
}
