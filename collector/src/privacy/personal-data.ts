import { isSealed, type Keyring, open, openJson, seal, sealJson } from './encryption';

/**
 * The one list of trait keys that hold personal data. Keys are compared without case, `_`, `-` or
 * spaces, so `phoneNumber`, `phone_number` and `Phone Number` are one key. Values under these keys
 * are sealed wherever traits are kept: customer_traits, and the traits of events (an identify's
 * `traits`, any call's `context.traits`).
 */
const PERSONAL_TRAIT_KEYS = new Set([
  'email',
  'phone',
  'phonenumber',
  'mobile',
  'mobilephone',
  'name',
  'firstname',
  'lastname',
  'fullname',
  'birthday',
  'birthdate',
  'dateofbirth',
  'dob',
  'address',
  'emergencycontact',
]);

const canonicalKey = (key: string) => key.toLowerCase().replace(/[\s_-]/g, '');

export const isPersonalTraitKey = (key: string) => PERSONAL_TRAIT_KEYS.has(canonicalKey(key));

/**
 * A trait value as it is stored: under a personal-data key, the sealed JSON of the value (a JSON
 * string `enc:...`); anything else as is. Null stays null: it says nothing about the person, and
 * "the trait exists" keeps working in segment rules.
 */
export function sealTraitValue(keyring: Keyring, key: string, value: unknown): unknown {
  if (value === null || value === undefined || !isPersonalTraitKey(key)) return value;
  return sealJson(keyring, value);
}

/** The plain value of a stored trait. Only personal-data keys are opened: other values are the sender's own strings. */
export function openTraitValue(keyring: Keyring, key: string, value: unknown): unknown {
  return isSealed(value) && isPersonalTraitKey(key) ? openJson(keyring, value) : value;
}

/**
 * Traits with their personal-data values sealed. Returns the same object when there is nothing to
 * seal, so the common event (no traits, or none personal) costs one key scan.
 */
export function sealTraits<T extends Record<string, unknown>>(keyring: Keyring, traits: T): T {
  let sealed: Record<string, unknown> | undefined;
  for (const [key, value] of Object.entries(traits)) {
    if (value === null || value === undefined || !isPersonalTraitKey(key)) continue;
    sealed ??= { ...traits };
    sealed[key] = sealJson(keyring, value);
  }
  return (sealed ?? traits) as T;
}

/** Traits with their sealed personal-data values opened. */
export function openTraits<T extends Record<string, unknown>>(keyring: Keyring, traits: T): T {
  let opened: Record<string, unknown> | undefined;
  for (const [key, value] of Object.entries(traits)) {
    if (!isSealed(value) || !isPersonalTraitKey(key)) continue;
    opened ??= { ...traits };
    opened[key] = openJson(keyring, value);
  }
  return (opened ?? traits) as T;
}

const isRecord = (v: unknown): v is Record<string, unknown> => !!v && typeof v === 'object' && !Array.isArray(v);

/** A JSON object with its `traits` member's personal data sealed (or opened): how events keep traits. */
function mapNestedTraits<T extends Record<string, unknown> | null>(
  holder: T,
  map: (traits: Record<string, unknown>) => Record<string, unknown>,
): T {
  if (!holder || !isRecord(holder.traits)) return holder;
  const traits = map(holder.traits);
  return traits === holder.traits ? holder : { ...holder, traits };
}

/** An event's `context` or `metadata` (which keeps an identify's or group's `traits`) with personal traits sealed. */
export const sealNestedTraits = <T extends Record<string, unknown> | null>(keyring: Keyring, holder: T) =>
  mapNestedTraits(holder, (t) => sealTraits(keyring, t));

export const openNestedTraits = <T extends Record<string, unknown> | null>(keyring: Keyring, holder: T) =>
  mapNestedTraits(holder, (t) => openTraits(keyring, t));

/** A personal-data text column (email, phone, names, date of birth) as stored. */
export const sealText = (keyring: Keyring, value: string | null | undefined) =>
  value === null || value === undefined ? value : seal(keyring, value);

/** The plain text of a personal-data column; rows written before encryption read as they are. */
export const openText = (keyring: Keyring, value: string | null): string | null =>
  value !== null && isSealed(value) ? open(keyring, value) : value;

/** A personal-data JSON column (address, emergency contact) as stored: text holding the sealed JSON. */
export const sealJsonText = (keyring: Keyring, value: Record<string, unknown> | null | undefined) =>
  value === null || value === undefined ? value : sealJson(keyring, value);

/** The object a personal-data JSON column holds; rows written before encryption hold plain JSON text. */
export function openJsonText(keyring: Keyring, value: string | null): Record<string, unknown> | null {
  if (value === null) return null;
  const parsed = isSealed(value) ? openJson(keyring, value) : JSON.parse(value);
  return isRecord(parsed) ? parsed : null;
}

/** The customer columns that hold personal data, as stored. */
export function sealCustomerFields<
  T extends { email?: string | null; phoneNumber?: string | null; firstName?: string | null; lastName?: string | null },
>(keyring: Keyring, fields: T): T {
  const sealed: T = { ...fields };
  for (const k of ['email', 'phoneNumber', 'firstName', 'lastName'] as const) {
    if (k in fields) sealed[k] = sealText(keyring, fields[k]) as T[typeof k];
  }
  return sealed;
}

/** A customer row with its personal-data columns opened. */
export function openCustomer<
  T extends { email: string | null; phoneNumber: string | null; firstName: string | null; lastName: string | null },
>(keyring: Keyring, c: T): T {
  return {
    ...c,
    email: openText(keyring, c.email),
    phoneNumber: openText(keyring, c.phoneNumber),
    firstName: openText(keyring, c.firstName),
    lastName: openText(keyring, c.lastName),
  };
}

/** A customer_profiles row with its personal-data columns opened. */
export function openProfile<
  T extends { dateOfBirth: string | null; address: string | null; emergencyContact: string | null },
>(keyring: Keyring, p: T) {
  return {
    ...p,
    dateOfBirth: openText(keyring, p.dateOfBirth),
    address: openJsonText(keyring, p.address),
    emergencyContact: openJsonText(keyring, p.emergencyContact),
  };
}
