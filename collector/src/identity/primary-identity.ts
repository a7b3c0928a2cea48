import type { IdentityType } from '@tributary/spec';
import { and, eq } from 'drizzle-orm';
import type { Tx } from '../db/client';
import { customerIdentities } from '../db/schema';
import type { Keyring } from '../privacy/encryption';
import { lockCustomer } from '../profiles/lock-customer';
import { findCustomerIdentity, type IdentityRef } from './find-identity';
import type { IdentityRecord } from './identity-response';

/** Drops the customer's primary mark for a type, before another identity of that type takes it. */
export async function clearPrimary(tx: Tx, customerId: string, type: IdentityType) {
  await tx
    .update(customerIdentities)
    .set({ isPrimary: false, updatedAt: new Date() })
    .where(
      and(
        eq(customerIdentities.customerId, customerId),
        eq(customerIdentities.identityType, type),
        eq(customerIdentities.isPrimary, true),
      ),
    );
}

/** Makes one identity the customer's primary of its type; the previous primary of that type stops being one. */
export async function setPrimaryIdentity(
  tx: Tx,
  customerId: string,
  ref: IdentityRef,
  options: { defaultPhoneCountry: string; keyring: Keyring },
): Promise<{ customer: { id: string; mergedFrom?: string }; identity: IdentityRecord }> {
  const customer = await lockCustomer(tx, customerId);
  const identity = await findCustomerIdentity(tx, customer.id, ref, options);
  if (identity.isPrimary) return { customer, identity };
  await clearPrimary(tx, customer.id, identity.identityType);
  const [updated] = await tx
    .update(customerIdentities)
    .set({ isPrimary: true, updatedAt: new Date() })
    .where(eq(customerIdentities.id, identity.id))
    .returning();
  return { customer, identity: updated ?? identity };
}
