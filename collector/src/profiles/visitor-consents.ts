import type { ConsentType } from '@tributary/spec';
import { sql } from 'drizzle-orm';
import { type Db, queryRows, type Tx } from '../db/client';
import { textArray } from '../db/sql-lists';
import type { CurrentConsent } from './consents-store';

/** The identifiers an event names a visitor by, as they are stored (normalized). */
export type VisitorIdentifier = 'EXTERNAL_ID' | 'COOKIE_ID';

/** Which customers a flush's visitors are, and what those customers consented to. */
export interface VisitorConsents {
  /** The customer owning a userId (EXTERNAL_ID) or an anonymous ID (COOKIE_ID), if any. */
  ownerOf(type: VisitorIdentifier, value: string | undefined): string | undefined;
  /** The customer's consent record of a type, if it ever recorded one. */
  consentOf(customerId: string, type: ConsentType): CurrentConsent | undefined;
}

interface Row {
  type: VisitorIdentifier;
  value: string;
  customer_id: string;
  consent_type: ConsentType | null;
  granted: boolean | null;
  source: string | null;
  expires_at: number | null;
  updated_at: number | null;
}

/**
 * The owners of these (normalized) userIds and anonymous IDs with their consent records, in one
 * statement: every ingestion flush needs both, to leave out events without analytics consent and to
 * record the consent events carry, and a round trip to the database costs more than the rows.
 */
export async function readVisitorConsents(
  db: Db | Tx,
  userIds: readonly string[],
  anonymousIds: readonly string[],
): Promise<VisitorConsents> {
  const rows =
    !userIds.length && !anonymousIds.length
      ? []
      : await queryRows<Row>(
          db,
          // Dates as epoch milliseconds: a number reads the same from both drivers.
          sql`select i.identity_type as type, i.identity_value as value, i.customer_id,
          c.consent_type, c.granted, c.source,
          (extract(epoch from c.expires_at) * 1000)::float8 as expires_at,
          (extract(epoch from c.updated_at) * 1000)::float8 as updated_at
        from customer_identities i
        left join customer_consents c on c.customer_id = i.customer_id
        where (i.identity_type = 'EXTERNAL_ID' and i.identity_value = any(${textArray(userIds)}))
           or (i.identity_type = 'COOKIE_ID' and i.identity_value = any(${textArray(anonymousIds)}))`,
          { prepared: true },
        );
  const owners = { EXTERNAL_ID: new Map<string, string>(), COOKIE_ID: new Map<string, string>() };
  const consents = new Map<string, Map<ConsentType, CurrentConsent>>();
  for (const r of rows) {
    owners[r.type].set(r.value, r.customer_id);
    let ofCustomer = consents.get(r.customer_id);
    if (!ofCustomer) {
      ofCustomer = new Map();
      consents.set(r.customer_id, ofCustomer);
    }
    // A customer named by several identifiers comes once per identifier: its records once.
    if (r.consent_type === null || ofCustomer.has(r.consent_type)) continue;
    ofCustomer.set(r.consent_type, {
      customerId: r.customer_id,
      consentType: r.consent_type,
      granted: r.granted === true,
      source: r.source,
      expiresAt: r.expires_at === null ? null : new Date(r.expires_at),
      updatedAt: new Date(r.updated_at ?? 0),
    });
  }
  return {
    ownerOf: (type, value) => (value === undefined ? undefined : owners[type].get(value)),
    consentOf: (customerId, type) => consents.get(customerId)?.get(type),
  };
}
