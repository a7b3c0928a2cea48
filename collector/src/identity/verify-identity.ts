import { eq } from 'drizzle-orm';
import type { Tx } from '../db/client';
import { customerIdentities, customers } from '../db/schema';
import type { Keyring } from '../privacy/encryption';
import { requireCustomer } from '../profiles/require-customer';
import { findCustomerIdentity, type IdentityRef } from './find-identity';
import type { IdentityRecord } from './identity-response';

/**
 * Marks an identity verified (at `verifiedAt`, default now). A verified email or phone also makes the
 * customer verified, since that is how a person proves who they are.
 */
export async function verifyIdentity(
  tx: Tx,
  customerId: string,
  ref: IdentityRef & { verifiedAt?: Date | undefined },
  options: { defaultPhoneCountry: string; keyring: Keyring },
): Promise<{ customer: { id: string; mergedFrom?: string }; identity: IdentityRecord }> {
  const customer = await requireCustomer(tx, customerId);
  const identity = await findCustomerIdentity(tx, customer.id, ref, options);
  const now = new Date();
  const [updated] = await tx
    .update(customerIdentities)
    .set({ verifiedAt: ref.verifiedAt ?? now, updatedAt: now })
    .where(eq(customerIdentities.id, identity.id))
    .returning();
  if (identity.identityType === 'EMAIL' || identity.identityType === 'PHONE') {
    await tx.update(customers).set({ isVerified: true, updatedAt: now }).where(eq(customers.id, customer.id));
  }
  return { customer, identity: updated ?? identity };
}
