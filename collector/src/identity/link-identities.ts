import { and, eq, or } from 'drizzle-orm';
import type { Tx } from '../db/client';
import { customerIdentities, customers } from '../db/schema';
import type { LinkOp } from '../ingest/event-row';
import { blindIndex, type Keyring } from '../privacy/encryption';
import { identityMatches, storedIdentity } from '../privacy/identity-lookup';
import { identifiedCustomers, mergeCustomers } from './merge-customers';
import { type IdentityType, normalizeIdentity } from './normalize-identity';

export interface Candidate {
  type: IdentityType;
  value: string;
}

export interface LinkOptions {
  defaultPhoneCountry: string;
  /** Seals EMAIL and PHONE values; every identifier is matched through its blind index. */
  keyring: Keyring;
}

/**
 * The identifiers a link op names itself, normalized (junk left out), in the order they are linked:
 * the userId, the anonymous ID, then email and phone from traits. An alias's previous ID is not among
 * them: which type it is depends on what is stored.
 */
export function candidatesOf(op: LinkOp, options: Pick<LinkOptions, 'defaultPhoneCountry'>) {
  const norm = (type: IdentityType, v: unknown) => normalizeIdentity(type, v, options.defaultPhoneCountry);
  const candidates: Candidate[] = [];
  const userId = norm('EXTERNAL_ID', op.userId);
  if (userId) candidates.push({ type: 'EXTERNAL_ID', value: userId });
  const anonymousId = norm('COOKIE_ID', op.anonymousId);
  if (anonymousId) candidates.push({ type: 'COOKIE_ID', value: anonymousId });
  const email = norm('EMAIL', op.traits?.email);
  if (email) candidates.push({ type: 'EMAIL', value: email });
  // The same keys the customer's phone field is filled from (apply-identify-traits).
  const phone = norm('PHONE', op.traits?.phone ?? op.traits?.phoneNumber ?? op.traits?.phone_number);
  if (phone) candidates.push({ type: 'PHONE', value: phone });
  return { userId, candidates };
}

/**
 * Identity stitching for identify, alias and any call carrying a userId: finds or creates the
 * customer and links the call's identifiers to it (EXTERNAL_ID for the userId, COOKIE_ID for the
 * anonymous ID, EMAIL and PHONE from traits).
 *
 * Rules: the userId's owner wins; a customer with no userId (an anonymous visitor) that shares an
 * identifier is merged into the winner; a customer with a different userId is never merged and keeps
 * its identifiers. The cost depends on the number of identifiers, not on how many events they have.
 * Returns the customer, or null when every identifier was junk.
 */
export async function linkIdentities(tx: Tx, op: LinkOp, options: LinkOptions): Promise<string | null> {
  const { keyring } = options;
  const { userId, candidates } = candidatesOf(op, options);

  const previousId = normalizeIdentity('EXTERNAL_ID', op.previousId, options.defaultPhoneCountry);
  if (previousId && previousId !== userId) {
    // A previous ID is either an earlier userId or an anonymous ID; whichever is known decides.
    const [known] = await tx
      .select({ type: customerIdentities.identityType })
      .from(customerIdentities)
      .where(identityMatches(keyring, 'EXTERNAL_ID', previousId))
      .limit(1);
    // With verification, a previous userId is someone's account: its owner did not sign this call.
    if (!(known && op.verified)) {
      // After the userId and the anonymous ID, before email and phone.
      const at = candidates.filter((c) => c.type === 'EXTERNAL_ID' || c.type === 'COOKIE_ID').length;
      candidates.splice(at, 0, { type: known ? 'EXTERNAL_ID' : 'COOKIE_ID', value: previousId });
    }
  }

  if (!candidates.length) return null;

  const existing = await tx
    .select({
      type: customerIdentities.identityType,
      hash: customerIdentities.valueHash,
      customerId: customerIdentities.customerId,
    })
    .from(customerIdentities)
    .where(or(...candidates.map((c) => identityMatches(keyring, c.type, c.value))));
  const hashes = new Map(candidates.map((c) => [c, blindIndex(keyring, c.type, c.value)]));
  const ownerOf = (c: Candidate) => existing.find((e) => e.type === c.type && e.hash === hashes.get(c))?.customerId;
  const owners = [...new Set(existing.map((e) => e.customerId))];
  const identified = await identifiedCustomers(tx, owners);

  const target = await chooseTarget(tx, keyring, candidates, ownerOf, owners, identified, userId, op.verified);

  for (const owner of owners) {
    if (owner !== target && !identified.has(owner)) {
      await mergeCustomers(tx, owner, target, 'merge', `stitch:${op.kind}`);
    }
  }

  const unowned = candidates.filter((c) => !ownerOf(c));
  if (unowned.length) {
    await tx
      .insert(customerIdentities)
      .values(
        unowned.map((c) => ({
          customerId: target,
          ...storedIdentity(keyring, c.type, c.value),
          provider: `segment:${op.kind}`,
        })),
      )
      .onConflictDoNothing();
  }
  await tx.update(customers).set({ lastSeenAt: op.at }).where(eq(customers.id, target));
  return target;
}

/**
 * The customer holding `userId` as an anonymous ID that an alias recorded. An alias's previous ID
 * nobody knows is recorded as an anonymous ID, since it may be one; when it is a userId whose identify
 * has not arrived yet (RudderStack sends each call on a request of its own, and they overtake each
 * other), that identify belongs to the alias's customer, not to a new one.
 */
async function aliasedOwner(tx: Tx, keyring: Keyring, userId: string): Promise<string | undefined> {
  const [row] = await tx
    .select({ customerId: customerIdentities.customerId })
    .from(customerIdentities)
    .where(and(identityMatches(keyring, 'COOKIE_ID', userId), eq(customerIdentities.provider, 'segment:alias')))
    .limit(1);
  return row?.customerId;
}

async function chooseTarget(
  tx: Tx,
  keyring: Keyring,
  candidates: Candidate[],
  ownerOf: (c: Candidate) => string | undefined,
  owners: string[],
  identified: Set<string>,
  userId: string | undefined,
  verified: boolean | undefined,
): Promise<string> {
  // The userId's owner, or on alias the owner of the previous userId.
  const externalOwner = candidates
    .filter((c) => c.type === 'EXTERNAL_ID')
    .map(ownerOf)
    .find(Boolean);
  if (externalOwner) return externalOwner;
  // Or the customer an alias named this userId as its previous ID before anyone knew it as a userId.
  // Not with verification: the alias's sender signed its own userId, not this one.
  const aliased = userId && !verified ? await aliasedOwner(tx, keyring, userId) : undefined;
  if (aliased) return aliased;
  if (!userId) {
    // No userId: join the single identified owner if there is one (unless only a signed userId may:
    // `verified`), else any anonymous owner (cookie first).
    const identifiedOwners = verified ? [] : owners.filter((o) => identified.has(o));
    if (identifiedOwners.length === 1 && identifiedOwners[0]) return identifiedOwners[0];
    const cookie = candidates.find((c) => c.type === 'COOKIE_ID');
    const byCookie = cookie && ownerOf(cookie);
    // The cookie's owner is this visitor, even identified: with verification, a signed call linked it.
    if (byCookie) return byCookie;
    const anonymous = owners.find((o) => !(verified && identified.has(o)));
    if (anonymous) return anonymous;
  } else {
    // A new userId adopts an anonymous customer that shares an identifier, cookie first.
    const anonymous = candidates.map(ownerOf).find((o) => o && !identified.has(o));
    if (anonymous) return anonymous;
  }
  const [created] = await tx.insert(customers).values({}).returning({ id: customers.id });
  if (!created) throw new Error('customer was not created');
  return created.id;
}
