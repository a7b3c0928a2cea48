import type { TraitType } from '@tributary/spec';
import { eq, sql } from 'drizzle-orm';
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

/**
 * What an identify call's traits do to the customer it resolved to, inside the ingestion transaction:
 * every trait is stored (source `identify`, values keep their JSON type) in one statement, and the
 * customer and profile fields the traits name are filled. An identify older than the one that last set
 * a trait does not overwrite it, so late deliveries cannot undo newer data.
 */
export async function applyIdentifyTraits(
  tx: Tx,
  customerId: string,
  traits: Record<string, unknown>,
  options: { at: Date; defaultPhoneCountry: string; keyring: Keyring },
) {
  const { keyring } = options;
  const entries = Object.entries(traits).filter(([k, v]) => v !== undefined && k.length > 0 && k.length <= 256);
  if (!entries.length) return;
  // Personal-data values are sealed here, before the JSON the statement reads is built.
  const values = Object.fromEntries(entries.map(([k, v]) => [k, sealTraitValue(keyring, k, v)]));
  const types = Object.fromEntries(entries.map(([k]) => [k, identifyTraitType(k)]));
  const at = options.at.toISOString();
  await tx.execute(sql`
    insert into customer_traits (customer_id, trait_key, trait_value, trait_type, source, computed_at, updated_at)
    select ${customerId}, t.key, t.value, (${JSON.stringify(types)}::jsonb ->> t.key)::trait_type, 'identify', ${at}::timestamptz, now()
    from jsonb_each(${JSON.stringify(values)}::jsonb) as t
    on conflict (customer_id, trait_key) do update set
      trait_value = excluded.trait_value, source = excluded.source, computed_at = excluded.computed_at,
      expires_at = null, updated_at = now()
    where customer_traits.source is distinct from 'identify'
      or customer_traits.computed_at is null or customer_traits.computed_at <= excluded.computed_at`);

  const now = new Date();
  const customerFields = customerFieldsOf(traits, options.defaultPhoneCountry);
  if (Object.keys(customerFields).length) {
    await tx
      .update(customers)
      .set({ ...sealCustomerFields(keyring, customerFields), updatedAt: now })
      .where(eq(customers.id, customerId));
  }

  const { dateOfBirth: dob, address, ...profile } = profileFieldsOf(traits);
  if (dob || address || Object.keys(profile).length) {
    await tx
      .insert(customerProfiles)
      .values({ customerId, ...profile, dateOfBirth: sealText(keyring, dob), address: sealJsonText(keyring, address) })
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
