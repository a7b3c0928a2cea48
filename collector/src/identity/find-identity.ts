import type { IdentityType } from '@tributary/spec';
import { and, eq } from 'drizzle-orm';
import type { Db, Tx } from '../db/client';
import { customerIdentities } from '../db/schema';
import { notFound } from '../http/errors';
import type { Keyring } from '../privacy/encryption';
import { identityMatches } from '../privacy/identity-lookup';
import type { IdentityRecord } from './identity-response';
import { parseIdentityValue } from './parse-identity';

/** How a request names an identity: by ID, or by type and value (validated by the spec schemas). */
export interface IdentityRef {
  identityId?: string | undefined;
  identityType?: IdentityType | undefined;
  identityValue?: string | undefined;
}

/** The customer's identity a request names; a 404 when the customer has no such identity. */
export async function findCustomerIdentity(
  db: Db | Tx,
  customerId: string,
  ref: IdentityRef,
  options: { defaultPhoneCountry: string; keyring: Keyring },
): Promise<IdentityRecord> {
  let where: ReturnType<typeof and>;
  let label: string;
  if (ref.identityId) {
    where = eq(customerIdentities.id, ref.identityId);
    label = `Identity ${ref.identityId}`;
  } else if (ref.identityType && ref.identityValue) {
    const value = parseIdentityValue(ref.identityType, ref.identityValue, { ...options, field: 'json.identityValue' });
    where = identityMatches(options.keyring, ref.identityType, value);
    label = `${ref.identityType} ${value}`;
  } else {
    throw new Error('the request schema lets no identity reference through without an ID or a type and value');
  }
  const [row] = await db
    .select()
    .from(customerIdentities)
    .where(and(where, eq(customerIdentities.customerId, customerId)))
    .limit(1);
  if (!row) throw notFound(`${label} is not an identity of customer ${customerId}`);
  return row;
}

/** The identity with this type and (normalized) value, whoever owns it. */
export async function findIdentity(
  db: Db | Tx,
  keyring: Keyring,
  type: IdentityType,
  value: string,
): Promise<IdentityRecord | undefined> {
  const [row] = await db
    .select()
    .from(customerIdentities)
    .where(identityMatches(keyring, type, value))
    .limit(1);
  return row;
}
