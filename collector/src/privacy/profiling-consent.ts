import { and, eq, inArray, type SQL, sql } from 'drizzle-orm';
import type { Db, Tx } from '../db/client';
import { customerConsents } from '../db/schema';
import { HttpError } from '../http/errors';

/**
 * The consents that let Tributary compute things about a person (GDPR art. 21-22): with PERSONALIZATION
 * or PROFILING revoked, a customer gets no computed traits, no engagement score or lifetime value, and
 * no membership in rule-based segments. Only an explicit revocation blocks; no record means allowed.
 */
export const PROFILING_CONSENTS = ['PERSONALIZATION', 'PROFILING'] as const;

export const profilingRevoked = (consents: readonly { consentType: string; granted: boolean }[]) =>
  consents.some((k) => (PROFILING_CONSENTS as readonly string[]).includes(k.consentType) && !k.granted);

/** Throws 409 when the customer revoked profiling, for the compute endpoints. */
export async function requireProfilingConsent(db: Db | Tx, customerId: string) {
  const rows = await db
    .select({ consentType: customerConsents.consentType, granted: customerConsents.granted })
    .from(customerConsents)
    .where(
      and(eq(customerConsents.customerId, customerId), inArray(customerConsents.consentType, [...PROFILING_CONSENTS])),
    );
  if (profilingRevoked(rows)) {
    throw new HttpError(
      409,
      'consent_revoked',
      'The customer revoked PERSONALIZATION or PROFILING consent: nothing is computed about them',
    );
  }
}

/** SQL condition: the customer in `customerId` (a column) has not revoked profiling. */
export const profilingAllowed = (customerId: SQL): SQL =>
  sql`not exists (select 1 from customer_consents pc where pc.customer_id = ${customerId}
        and pc.consent_type in ('PERSONALIZATION', 'PROFILING') and pc.granted = false)`;
