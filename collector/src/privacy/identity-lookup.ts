import { and, eq } from 'drizzle-orm';
import type { Db, Tx } from '../db/client';
import { customerIdentities } from '../db/schema';
import type { IdentityType } from '../identity/normalize-identity';
import { blindIndex, isSealed, type Keyring, open, seal } from './encryption';

/** Identity types that are personal data and are stored sealed. */
export const PII_IDENTITY_TYPES: ReadonlySet<IdentityType> = new Set(['EMAIL', 'PHONE', 'IP_ADDRESS']);

/**
 * How a normalized identity is stored: sealed when it is personal data, always with its blind index,
 * which is what every lookup goes through.
 */
export function storedIdentity(keyring: Keyring, type: IdentityType, normalized: string) {
  return {
    identityType: type,
    identityValue: PII_IDENTITY_TYPES.has(type) ? seal(keyring, normalized) : normalized,
    valueHash: blindIndex(keyring, type, normalized),
  };
}

/** The plain value of a stored identity. */
export const identityValueOf = (keyring: Keyring, stored: string) =>
  isSealed(stored) ? open(keyring, stored) : stored;

/** The condition matching one (type, normalized value) identity, through its blind index. */
export const identityMatches = (keyring: Keyring, type: IdentityType, normalized: string) =>
  and(
    eq(customerIdentities.identityType, type),
    eq(customerIdentities.valueHash, blindIndex(keyring, type, normalized)),
  );

/** The customer owning an identity, if any. */
export async function findIdentityOwner(
  db: Db | Tx,
  keyring: Keyring,
  type: IdentityType,
  normalized: string,
): Promise<string | undefined> {
  const [row] = await db
    .select({ customerId: customerIdentities.customerId })
    .from(customerIdentities)
    .where(identityMatches(keyring, type, normalized))
    .limit(1);
  return row?.customerId;
}
