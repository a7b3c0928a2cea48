import type { CustomerSummary } from '@tributary/spec';
import type { Keyring } from '../privacy/encryption';
import { openText } from '../privacy/personal-data';
import type { CustomerRecord } from './require-customer';

/**
 * Names the customer an answer is about. When the ID asked for was merged away, the answer is about
 * the customer it became, and `mergedFrom` says which ID was asked for.
 */
export function customerRef(customer: { id: string; mergedFrom?: string }): {
  customerId: string;
  mergedFrom?: string;
} {
  return customer.mergedFrom
    ? { customerId: customer.id, mergedFrom: customer.mergedFrom }
    : { customerId: customer.id };
}

/** A customer row as identity lookups and merges show it, its personal data opened. */
export function toCustomerSummary(c: CustomerRecord, keyring: Keyring): CustomerSummary {
  return {
    id: c.id,
    email: openText(keyring, c.email),
    phoneNumber: openText(keyring, c.phoneNumber),
    firstName: openText(keyring, c.firstName),
    lastName: openText(keyring, c.lastName),
    isVerified: c.isVerified,
    lastLoginAt: c.lastLoginAt?.toISOString() ?? null,
    lastSeenAt: c.lastSeenAt?.toISOString() ?? null,
    createdAt: c.createdAt.toISOString(),
  };
}
