import type { TraitType } from '@tributary/spec';
import { sql } from 'drizzle-orm';
import type { Tx } from '../db/client';
import { customerProfiles, customers } from '../db/schema';
import { normalizeIdentity } from '../identity/normalize-identity';
import { isPlainObject } from '../is-plain-object';
import type { Keyring } from '../privacy/encryption';
import { sealCustomerFields, sealJsonText, sealText, sealTraitValue } from '../privacy/personal-data';

// Identify traits describe the person; these few say what they prefer or where they are in their life
// as a customer. Everything else is DEMOGRAPHIC.
const PREFERENCE_KEYS = new Set([
  'preferences',
  'preferredContact',
  'preferred_contact',
  'language',
  'locale',
  'timezone',
]);
const LIFECYCLE_KEYS = new Set(['plan', 'status', 'createdAt', 'created_at', 'lifecycleStage', 'lifecycle_stage']);

/** The trait type an identify trait is stored with when it is first seen. */
export function identifyTraitType(key: string): TraitType {
  if (PREFERENCE_KEYS.has(key)) return 'PREFERENCE';
  if (LIFECYCLE_KEYS.has(key)) return 'LIFECYCLE';
  return 'DEMOGRAPHIC';
}

const text = (v: unknown, max = 256) => (typeof v === 'string' && v.trim() ? v.trim().slice(0, max) : undefined);
const first = (traits: Record<string, unknown>, ...keys: string[]) =>
  keys.map((k) => traits[k]).find((v) => v !== undefined && v !== null);

/** A birthday as `YYYY-MM-DD`, from a date string or an ISO timestamp; undefined when it is not a plausible one. */
export function dateOfBirth(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  const d = new Date(/^\d{4}-\d{2}-\d{2}$/.test(value.trim()) ? `${value.trim()}T00:00:00Z` : value);
  if (Number.isNaN(d.getTime()) || d.getUTCFullYear() < 1900 || d.getTime() > Date.now()) return undefined;
  return d.toISOString().slice(0, 10);
}

/** The customer fields identify traits name: email and phone normalized, names from first/last or split from `name`. */
export function customerFieldsOf(traits: Record<string, unknown>, defaultPhoneCountry: string) {
  const fields: Partial<Pick<typeof customers.$inferInsert, 'email' | 'phoneNumber' | 'firstName' | 'lastName'>> = {};
  const email = normalizeIdentity('EMAIL', traits.email);
  if (email) fields.email = email;
  const phone = normalizeIdentity('PHONE', first(traits, 'phone', 'phoneNumber', 'phone_number'), defaultPhoneCountry);
  if (phone) fields.phoneNumber = phone;
  const firstName = text(first(traits, 'firstName', 'first_name'));
  const lastName = text(first(traits, 'lastName', 'last_name'));
  const name = text(traits.name, 512);
  if (name && !firstName && !lastName) {
    const [given, ...rest] = name.split(/\s+/);
    if (given) fields.firstName = given;
    if (rest.length) fields.lastName = rest.join(' ');
  }
  if (firstName) fields.firstName = firstName;
  if (lastName) fields.lastName = lastName;
  return fields;
}

/** The profile fields identify traits name (in plain text; `applyIdentifyTraits` seals the personal ones). */
export function profileFieldsOf(traits: Record<string, unknown>) {
  const fields: {
    dateOfBirth?: string;
    address?: Record<string, unknown>;
    preferences?: Record<string, unknown>;
    preferredContact?: string;
  } = {};
  const dob = dateOfBirth(first(traits, 'birthday', 'dateOfBirth', 'date_of_birth'));
  if (dob) fields.dateOfBirth = dob;
  if (isPlainObject(traits.address)) fields.address = traits.address;
  if (isPlainObject(traits.preferences)) fields.preferences = traits.preferences;
  const preferredContact = text(first(traits, 'preferredContact', 'preferred_contact'), 64);
  if (preferredContact) fields.preferredContact = preferredContact;
  return fields;
}

/** An identify call's traits, for the customer it resolved to. */
export interface IdentifyTraits {
  customerId: string;
  traits: Record<string, unknown>;
  /** The call's time: an older identify does not overwrite what a newer one set. */
  at: Date;
}

/**
 * What identify calls' traits do to the customers they resolved to, inside the ingestion transaction:
 * every trait is stored (source `identify`, values keep their JSON type), and the customer and profile
 * fields the traits name are filled, each in one statement for all the calls. An identify older than
 * the one that last set a trait does not overwrite it, so late deliveries cannot undo newer data.
 * The calls name distinct customers (one statement cannot write a row twice); otherwise they are
 * applied one at a time, in order.
 */
export async function applyIdentifyTraits(
  tx: Tx,
  calls: readonly IdentifyTraits[],
  options: { defaultPhoneCountry: string; keyring: Keyring },
): Promise<void> {
  if (new Set(calls.map((c) => c.customerId)).size < calls.length) {
    for (const call of calls) await applyIdentifyTraits(tx, [call], options);
    return;
  }
  const { keyring } = options;
  const rows = calls.flatMap(({ customerId, traits, at }) =>
    Object.entries(traits)
      .filter(([k, v]) => v !== undefined && k.length > 0 && k.length <= 256)
      // Personal-data values are sealed here, before the JSON the statement reads is built.
      .map(([key, value]) => ({
        customer_id: customerId,
        key,
        value: sealTraitValue(keyring, key, value),
        type: identifyTraitType(key),
        at: at.toISOString(),
      })),
  );
  if (!rows.length) return;
  await tx.execute(sql`
    insert into customer_traits (customer_id, trait_key, trait_value, trait_type, source, computed_at, updated_at)
    select (t->>'customer_id')::uuid, t->>'key', t->'value', (t->>'type')::trait_type, 'identify',
      (t->>'at')::timestamptz, now()
    -- Elements, not a recordset: a recordset would read a trait that is JSON null as SQL NULL.
    from jsonb_array_elements(${JSON.stringify(rows)}::jsonb) as t
    on conflict (customer_id, trait_key) do update set
      trait_value = excluded.trait_value, source = excluded.source, computed_at = excluded.computed_at,
      expires_at = null, updated_at = now()
    where customer_traits.source is distinct from 'identify'
      or customer_traits.computed_at is null or customer_traits.computed_at <= excluded.computed_at`);

  const now = new Date();
  const fields = calls.flatMap(({ customerId, traits }) => {
    const named = customerFieldsOf(traits, options.defaultPhoneCountry);
    if (!Object.keys(named).length) return [];
    const sealed = sealCustomerFields(keyring, named);
    return [
      {
        id: customerId,
        email: sealed.email ?? null,
        phone_number: sealed.phoneNumber ?? null,
        first_name: sealed.firstName ?? null,
        last_name: sealed.lastName ?? null,
      },
    ];
  });
  if (fields.length) {
    // A field the traits do not name keeps its value.
    await tx.execute(sql`
      update ${customers} c set
        email = coalesce(v.email, c.email), phone_number = coalesce(v.phone_number, c.phone_number),
        first_name = coalesce(v.first_name, c.first_name), last_name = coalesce(v.last_name, c.last_name),
        updated_at = ${now.toISOString()}::timestamptz
      from jsonb_to_recordset(${JSON.stringify(fields)}::jsonb)
        as v(id uuid, email text, phone_number text, first_name text, last_name text)
      where c.id = v.id`);
  }

  const profiles = calls.flatMap(({ customerId, traits }) => {
    const { dateOfBirth: dob, address, ...profile } = profileFieldsOf(traits);
    if (!dob && !address && !Object.keys(profile).length) return [];
    return [{ customerId, ...profile, dateOfBirth: sealText(keyring, dob), address: sealJsonText(keyring, address) }];
  });
  if (profiles.length) {
    await tx
      .insert(customerProfiles)
      .values(profiles)
      .onConflictDoUpdate({
        target: customerProfiles.customerId,
        set: {
          dateOfBirth: sql`coalesce(excluded.date_of_birth, ${customerProfiles.dateOfBirth})`,
          preferredContact: sql`coalesce(excluded.preferred_contact, ${customerProfiles.preferredContact})`,
          address: sql`coalesce(excluded.address, ${customerProfiles.address})`,
          // Preferences arrive piecemeal (one toggle at a time), so they are merged, not replaced.
          preferences: sql`case when excluded.preferences is null then ${customerProfiles.preferences}
            else coalesce(${customerProfiles.preferences}, '{}'::jsonb) || excluded.preferences end`,
          updatedAt: now,
        },
      });
  }
}
