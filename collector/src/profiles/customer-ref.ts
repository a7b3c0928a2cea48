import type { CustomerSummary } from '@tributary/spec';
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

/** A customer row as identity lookups and merges show it. */
export function toCustomerSummary(c: CustomerRecord): CustomerSummary {
  return {
    id: c.id,
    email: c.email,
    phoneNumber: c.phoneNumber,
    firstName: c.firstName,
    lastName: c.lastName,
    isVerified: c.isVerified,
    lastLoginAt: c.lastLoginAt?.toISOString() ?? null,
    lastSeenAt: c.lastSeenAt?.toISOString() ?? null,
    createdAt: c.createdAt.toISOString(),
  };
}
