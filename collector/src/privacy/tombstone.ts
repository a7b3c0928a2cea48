import { createHmac } from 'node:crypto';
import type { Keyring } from './encryption';

/**
 * The pseudonym a deleted customer's ID is replaced with in the audit trail and the regulation
 * records: a keyed hash (HMAC-SHA256 under `BLIND_INDEX_KEY`) of the ID, written as a UUID (version
 * 8, for custom UUIDs) so it fits where the ID was. Stable, so the entries that named the customer
 * still belong together, and whoever holds the key and the ID can still find them; without the key
 * it cannot be traced back to the ID.
 */
export function tombstoneOf(keyring: Keyring, customerId: string): string {
  const hash = createHmac('sha256', keyring.blindIndexKey)
    .update(`tombstone\u0000${customerId.toLowerCase()}`)
    .digest()
    .subarray(0, 16);
  hash[6] = ((hash[6] ?? 0) & 0x0f) | 0x80;
  hash[8] = ((hash[8] ?? 0) & 0x3f) | 0x80;
  const hex = hash.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** Whether an ID is a tombstone already (customers' own IDs are random UUIDs, version 4). */
export const isTombstone = (id: string) => id[14] === '8';

/** Deleted customers' IDs (lower-case) and their tombstones. */
export type Tombstones = ReadonlyMap<string, string>;

export const tombstonesOf = (keyring: Keyring, customerIds: readonly string[]): Tombstones =>
  new Map(customerIds.map((id) => [id.toLowerCase(), tombstoneOf(keyring, id)]));

const UUIDS = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi;

/** Text (a request path, a journal line) with every ID in `tombstones` replaced by its tombstone, in any case. */
export const withTombstones = (text: string, tombstones: Tombstones): string =>
  text.replace(UUIDS, (id) => tombstones.get(id.toLowerCase()) ?? id);
