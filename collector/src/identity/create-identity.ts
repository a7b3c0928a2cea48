import type { CreateIdentityBody } from '@tributary/spec';
import { eq } from 'drizzle-orm';
import type { Db } from '../db/client';
import { customerIdentities } from '../db/schema';
import { HttpError } from '../http/errors';
import type { Keyring } from '../privacy/encryption';
import { identityMatches, storedIdentity } from '../privacy/identity-lookup';
import { sealMetadata } from '../privacy/personal-data';
import { lockCustomer } from '../profiles/lock-customer';
import type { IdentityRecord } from './identity-response';
import { parseIdentityValue } from './parse-identity';
import { clearPrimary } from './primary-identity';

export interface CreatedIdentity {
  customer: { id: string; mergedFrom?: string };
  identity: IdentityRecord;
  /** False when the customer already had this identity (its fields were updated instead). */
  created: boolean;
}

/**
 * Adds an identity to a customer. An identity belongs to one customer: one that another customer owns
 * is a 409 naming the owner; one the customer already has is updated with the fields given.
 */
export async function createIdentity(
  db: Db,
  customerId: string,
  body: CreateIdentityBody,
  options: { defaultPhoneCountry: string; keyring: Keyring },
): Promise<CreatedIdentity> {
  const value = parseIdentityValue(body.identityType, body.identityValue, {
    defaultPhoneCountry: options.defaultPhoneCountry,
    field: 'json.identityValue',
  });
  return db.transaction(async (tx) => {
    const customer = await lockCustomer(tx, customerId);
    if (body.isPrimary) await clearPrimary(tx, customer.id, body.identityType);
    const [inserted] = await tx
      .insert(customerIdentities)
      .values({
        customerId: customer.id,
        ...storedIdentity(options.keyring, body.identityType, value),
        isPrimary: body.isPrimary ?? false,
        verifiedAt: body.verifiedAt ?? null,
        provider: body.provider ?? 'api',
        metadata: sealMetadata(options.keyring, body.metadata),
      })
      .onConflictDoNothing({ target: [customerIdentities.identityType, customerIdentities.valueHash] })
      .returning();
    if (inserted) return { customer, identity: inserted, created: true };

    const where = identityMatches(options.keyring, body.identityType, value);
    const [existing] = await tx.select().from(customerIdentities).where(where).for('update');
    if (!existing) throw new Error('identity vanished between insert and select');
    if (existing.customerId !== customer.id) {
      const owner = `belongs to customer ${existing.customerId}`;
      throw new HttpError(409, 'conflict', `${body.identityType} ${value} ${owner}`, [
        { path: 'json.identityValue', message: owner },
      ]);
    }
    const [updated] = await tx
      .update(customerIdentities)
      .set({
        ...(body.isPrimary !== undefined ? { isPrimary: body.isPrimary } : {}),
        ...(body.verifiedAt ? { verifiedAt: body.verifiedAt } : {}),
        ...(body.provider ? { provider: body.provider } : {}),
        ...(body.metadata ? { metadata: sealMetadata(options.keyring, body.metadata) } : {}),
        updatedAt: new Date(),
      })
      .where(eq(customerIdentities.id, existing.id))
      .returning();
    return { customer, identity: updated ?? existing, created: false };
  });
}
