import { randomUUID } from 'node:crypto';
import { sql } from 'drizzle-orm';
import type { Tx } from '../db/client';
import { customerIdentities, customers } from '../db/schema';
import { textArray } from '../db/sql-lists';
import type { LinkOp } from '../ingest/event-row';
import { blindIndex } from '../privacy/encryption';
import { storedIdentity } from '../privacy/identity-lookup';
import { type Candidate, candidatesOf, type LinkOptions } from './link-identities';
import { normalizeIdentity } from './normalize-identity';

/** Fewer identifies than this in a flush are linked one by one: the lookup here would be one statement more. */
const MIN_IDENTIFIES = 2;

const keyOf = (type: string, hash: string) => `${type}:${hash}`;

/**
 * The identify ops of a flush that name only identifiers nobody owns and no other op of the flush
 * names, each linked to a customer of its own, created here: a batch of sign-ups or an import is mostly
 * such ops. For each, linkIdentities would create a customer, add the identifiers to it and set its
 * `last_seen_at`, touching nothing another op of the flush reads; here that is two statements for all
 * of them after one lookup, instead of five for each. Returns those ops' indexes and their customers;
 * the other ops are left to linkIdentities.
 */
export async function linkNewCustomers(
  tx: Tx,
  ops: readonly LinkOp[],
  options: LinkOptions,
): Promise<Map<number, string>> {
  const created = new Map<number, string>();
  if (ops.filter((op) => op.kind === 'identify').length < MIN_IDENTIFIES) return created;
  const { keyring, defaultPhoneCountry } = options;
  const named = ops.map((op) => {
    const { candidates } = candidatesOf(op, options);
    const keys = candidates.map((c) => keyOf(c.type, blindIndex(keyring, c.type, c.value)));
    // A userId an alias recorded as an anonymous ID is not new (linkIdentities' aliasedOwner).
    const userId = candidates.find((c) => c.type === 'EXTERNAL_ID');
    if (userId) keys.push(keyOf('COOKIE_ID', blindIndex(keyring, 'COOKIE_ID', userId.value)));
    // An alias's previous ID may be either a userId or an anonymous ID: it counts as both.
    const previousId = normalizeIdentity('EXTERNAL_ID', op.previousId, defaultPhoneCountry);
    if (previousId) {
      for (const type of ['EXTERNAL_ID', 'COOKIE_ID']) keys.push(keyOf(type, blindIndex(keyring, type, previousId)));
    }
    return { op, candidates, keys };
  });
  const uses = new Map<string, number>();
  for (const { keys } of named) for (const k of keys) uses.set(k, (uses.get(k) ?? 0) + 1);
  const lonely = named
    .map((n, index) => ({ ...n, index }))
    .filter(({ op, keys }) => op.kind === 'identify' && keys.length && keys.every((k) => uses.get(k) === 1));
  if (!lonely.length) return created;

  const owned = await ownedKeys(
    tx,
    lonely.flatMap((n) => n.keys),
  );
  const fresh = lonely.filter(({ keys }) => !keys.some((k) => owned.has(k)));
  if (!fresh.length) return created;
  for (const { index } of fresh) created.set(index, randomUUID());
  // As linkIdentities leaves a new customer: its identifiers added, `last_seen_at` the op's time.
  await tx.insert(customers).values(fresh.map(({ index, op }) => ({ id: created.get(index), lastSeenAt: op.at })));
  await tx
    .insert(customerIdentities)
    .values(
      fresh.flatMap(({ index, op, candidates }) =>
        candidates.map((c: Candidate) => ({
          customerId: created.get(index) as string,
          ...storedIdentity(keyring, c.type, c.value),
          provider: `segment:${op.kind}`,
        })),
      ),
    )
    // Only another collector could have added one since the lookup: it keeps it, as in linkIdentities.
    .onConflictDoNothing();
  return created;
}

/** Which of the `type:hash` keys are some customer's identity, in one query. */
async function ownedKeys(tx: Tx, keys: readonly string[]): Promise<Set<string>> {
  const byType = new Map<string, string[]>();
  for (const k of keys) {
    const [type, hash] = [k.slice(0, k.indexOf(':')), k.slice(k.indexOf(':') + 1)];
    const hashes = byType.get(type) ?? [];
    hashes.push(hash);
    byType.set(type, hashes);
  }
  // By type and hash, as the unique index on identities reads them.
  const matches = [...byType].map(
    ([type, hashes]) =>
      sql`(${customerIdentities.identityType} = ${type} and ${customerIdentities.valueHash} = any(${textArray(hashes)}))`,
  );
  const rows = await tx
    .select({ type: customerIdentities.identityType, hash: customerIdentities.valueHash })
    .from(customerIdentities)
    .where(sql.join(matches, sql` or `));
  return new Set(rows.map((r) => keyOf(r.type, r.hash ?? '')));
}
