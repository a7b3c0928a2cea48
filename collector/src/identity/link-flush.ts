import { sql } from 'drizzle-orm';
import type { Tx } from '../db/client';
import { customerIdentities, customers } from '../db/schema';
import { textArray } from '../db/sql-lists';
import type { LinkOp } from '../ingest/event-row';
import { blindIndex, type Keyring } from '../privacy/encryption';
import { storedIdentity } from '../privacy/identity-lookup';
import { type LinkOptions, linkIdentities } from './link-identities';
import { linkNewCustomers } from './link-new-customers';
import { normalizeIdentity } from './normalize-identity';

/** A link op's userId and anonymous ID as they are matched: normalized, then blind-indexed. */
interface Keys {
  userHash: string | undefined;
  anonymousId: string | undefined;
  anonymousHash: string | undefined;
}

/** The customers owning the userIds and anonymous IDs of `keys`, by `type:hash`, in one query. */
async function ownersOf(tx: Tx, keys: readonly (Keys | null)[]): Promise<Map<string, string>> {
  const userHashes = [...new Set(keys.flatMap((k) => (k?.userHash ? [k.userHash] : [])))];
  const anonymousHashes = [...new Set(keys.flatMap((k) => (k?.anonymousHash ? [k.anonymousHash] : [])))];
  const rows = await tx
    .select({
      type: customerIdentities.identityType,
      hash: customerIdentities.valueHash,
      customerId: customerIdentities.customerId,
    })
    .from(customerIdentities)
    .where(
      sql`(${customerIdentities.identityType} = 'EXTERNAL_ID' and ${customerIdentities.valueHash} = any(${textArray(userHashes)}))
        or (${customerIdentities.identityType} = 'COOKIE_ID' and ${customerIdentities.valueHash} = any(${textArray(anonymousHashes)}))`,
    )
    // Prepared: one text for any list (sql-lists.ts), so PostgreSQL parses and plans it once per connection.
    .prepare('link_flush_owners')
    .execute();
  return new Map(rows.map((r) => [`${r.type}:${r.hash}`, r.customerId]));
}

/** An op and the customer it linked to, as `afterLink` is told. */
export interface Linked {
  op: LinkOp;
  customerId: string;
}

/**
 * A flush's identity work, in the order it came; returns each op's customer (null: nothing linked).
 *
 * Identifies that name only new identifiers (sign-ups, an import) get their customers together first
 * (linkNewCustomers): they share nothing with the other ops, so doing them first changes no outcome.
 *
 * In steady traffic most of it is implicit (a track or page carrying a userId) for a userId that has
 * its customer already, with an anonymous ID that is that customer's already or nobody's yet. Such an
 * op decides nothing: linkIdentities would add the anonymous ID and touch `last_seen_at`. Those ops
 * are resolved from one lookup of the flush's identifiers and written together, one insert and one
 * update, instead of four statements each. Every other op (identify, alias, a new userId, an
 * anonymous ID another customer owns) goes through linkIdentities after the writes before it, and
 * `afterLink` runs after it (identify traits, for one), once for all the new customers.
 */
export async function linkFlush(
  tx: Tx,
  ops: readonly LinkOp[],
  options: LinkOptions,
  afterLink: (linked: Linked[]) => Promise<void> = async () => {},
): Promise<(string | null)[]> {
  const { keyring, defaultPhoneCountry } = options;
  const created = await linkNewCustomers(tx, ops, options);
  if (created.size) await afterLink([...created].map(([i, customerId]) => ({ op: ops[i] as LinkOp, customerId })));
  // Only implicit ops can be resolved from the lookup; the others find their own identifiers.
  const keys = ops.map((op) => (op.kind === 'implicit' ? keysOf(keyring, op, defaultPhoneCountry) : null));
  const results: (string | null)[] = [];
  // Owners of the identifiers of the ops still to link; read again after an op that may have changed them.
  let owners: Map<string, string> | null = null;
  const newAnonymousIds = new Map<string, string>();
  const lastSeen = new Map<string, Date>();

  for (const [i, op] of ops.entries()) {
    const createdFor = created.get(i);
    if (createdFor) {
      results.push(createdFor);
      continue;
    }
    const { userHash, anonymousId, anonymousHash } = keys[i] ?? {};
    if (userHash) {
      owners ??= await ownersOf(tx, keys.slice(i));
      const customerId = owners.get(`EXTERNAL_ID:${userHash}`);
      const anonymousOwner = anonymousHash && owners.get(`COOKIE_ID:${anonymousHash}`);
      if (customerId && (!anonymousOwner || anonymousOwner === customerId)) {
        if (anonymousId && anonymousHash && !anonymousOwner) {
          newAnonymousIds.set(anonymousId, customerId);
          owners.set(`COOKIE_ID:${anonymousHash}`, customerId);
        }
        // As one statement per op would leave it: the last op's time, not the latest.
        lastSeen.delete(customerId);
        lastSeen.set(customerId, op.at);
        results.push(customerId);
        continue;
      }
    }
    await writeSimpleLinks(tx, keyring, newAnonymousIds, lastSeen);
    const customerId = await linkIdentities(tx, op, options);
    owners = null;
    results.push(customerId);
    if (customerId) await afterLink([{ op, customerId }]);
  }
  await writeSimpleLinks(tx, keyring, newAnonymousIds, lastSeen);
  return results;
}

function keysOf(keyring: Keyring, op: LinkOp, defaultPhoneCountry: string): Keys {
  const userId = normalizeIdentity('EXTERNAL_ID', op.userId, defaultPhoneCountry);
  const anonymousId = normalizeIdentity('COOKIE_ID', op.anonymousId, defaultPhoneCountry);
  return {
    userHash: userId && blindIndex(keyring, 'EXTERNAL_ID', userId),
    anonymousId,
    anonymousHash: anonymousId && blindIndex(keyring, 'COOKIE_ID', anonymousId),
  };
}

/** Writes what the simple ops decided (new anonymous IDs, `last_seen_at`), and forgets it. */
async function writeSimpleLinks(
  tx: Tx,
  keyring: Keyring,
  newAnonymousIds: Map<string, string>,
  lastSeen: Map<string, Date>,
) {
  if (newAnonymousIds.size) {
    await tx
      .insert(customerIdentities)
      .values(
        [...newAnonymousIds].map(([anonymousId, customerId]) => ({
          customerId,
          ...storedIdentity(keyring, 'COOKIE_ID', anonymousId),
          provider: 'segment:implicit',
        })),
      )
      .onConflictDoNothing();
  }
  if (lastSeen.size) {
    const rows = [...lastSeen].map(([id, at]) => sql`(${id}::uuid, ${at.toISOString()}::timestamptz)`);
    await tx.execute(
      sql`update ${customers} set last_seen_at = v.at from (values ${sql.join(rows, sql`, `)}) as v(id, at)
          where ${customers.id} = v.id`,
    );
  }
  newAnonymousIds.clear();
  lastSeen.clear();
}
