import { isSealed, type Keyring, open, openJson, seal, sealJson } from './encryption';
import { personalKeyMatcher } from './personal-keys';

/**
 * Personal data in free-form JSON (event properties, context and metadata, traits) is sealed by key:
 * a value under a key the list in personal-keys.ts names is replaced by its sealed JSON (a JSON string
 * `enc:...`), at any depth, whatever its type but two. Null stays null: it says nothing about the
 * person, and "the trait exists" keeps working in segment rules. Booleans stay too: `true` names
 * nobody, and consent categories such as `MARKETING_EMAIL: true` must stay readable to be enforced.
 */

/** Deeper than this, a whole value is sealed rather than searched: no stack is spent on hostile nesting. */
const MAX_DEPTH = 64;

const isRecord = (v: unknown): v is Record<string, unknown> => !!v && typeof v === 'object' && !Array.isArray(v);

/** Sets a copy's member, `__proto__` included (a plain assignment would set the copy's prototype). */
function setMember(target: Record<string, unknown>, key: string, value: unknown) {
  if (key === '__proto__')
    Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
  else target[key] = value;
}

/** `value` with the personal data in it sealed; the same value when there is none, so it costs a key scan and no allocation. */
function sealIn(
  keyring: Keyring,
  matcher: ReturnType<typeof personalKeyMatcher>,
  value: unknown,
  inTraits: boolean,
  depth: number,
): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (depth > MAX_DEPTH) return sealJson(keyring, value);
  if (Array.isArray(value)) {
    let copy: unknown[] | undefined;
    for (let i = 0; i < value.length; i++) {
      const item = value[i];
      const sealed = sealIn(keyring, matcher, item, inTraits, depth + 1);
      if (sealed === item) continue;
      copy ??= value.slice();
      copy[i] = sealed;
    }
    return copy ?? value;
  }
  const record = value as Record<string, unknown>;
  let copy: Record<string, unknown> | undefined;
  // for...in without an own-property check: these are JSON objects, and the check doubles the scan's cost.
  for (const key in record) {
    const member = record[key];
    if (member === null || member === undefined || typeof member === 'boolean') continue;
    const sealed = matcher.isPersonal(key, inTraits)
      ? sealJson(keyring, member)
      : sealIn(keyring, matcher, member, inTraits || key === 'traits', depth + 1);
    if (sealed === member) continue;
    copy ??= { ...record };
    setMember(copy, key, sealed);
  }
  return copy ?? value;
}

/**
 * A JSON value (an event's properties, context or metadata) with every value under a personal-data
 * key sealed, at any depth. `inTraits` for a traits object; inside the value, any member named
 * `traits` is one too (identify and group `traits`, `context.traits`).
 */
export function sealPersonalData<T>(keyring: Keyring, value: T, inTraits = false): T {
  return sealIn(keyring, personalKeyMatcher(keyring.personalKeys), value, inTraits, 0) as T;
}

/** A sealed value opened; one that cannot be (not ours, or its key is no longer listed) is shown as stored. */
function openValue(keyring: Keyring, value: string): unknown {
  try {
    return openJson(keyring, value);
  } catch {
    return value;
  }
}

function openIn(keyring: Keyring, value: unknown, depth: number): unknown {
  if (typeof value === 'string') return isSealed(value) ? openValue(keyring, value) : value;
  if (value === null || typeof value !== 'object' || depth > MAX_DEPTH + 1) return value;
  if (Array.isArray(value)) {
    let copy: unknown[] | undefined;
    for (let i = 0; i < value.length; i++) {
      const opened = openIn(keyring, value[i], depth + 1);
      if (opened === value[i]) continue;
      copy ??= value.slice();
      copy[i] = opened;
    }
    return copy ?? value;
  }
  const record = value as Record<string, unknown>;
  let copy: Record<string, unknown> | undefined;
  for (const key in record) {
    const opened = openIn(keyring, record[key], depth + 1);
    if (opened === record[key]) continue;
    copy ??= { ...record };
    setMember(copy, key, opened);
  }
  return copy ?? value;
}

/**
 * A stored JSON value with everything sealed in it opened, whatever key it is under: what the list
 * of personal keys was when it was stored does not matter, so changing the list never hides data.
 */
export const openPersonalData = <T>(keyring: Keyring, value: T): T => openIn(keyring, value, 0) as T;

/** A trait value as it is stored: sealed whole under a personal-data key, else with the personal data in it sealed. */
export function sealTraitValue(keyring: Keyring, key: string, value: unknown): unknown {
  if (value === null || value === undefined) return value;
  const matcher = personalKeyMatcher(keyring.personalKeys);
  return matcher.isPersonal(key, true) ? sealJson(keyring, value) : sealIn(keyring, matcher, value, true, 1);
}

/** The plain value of a stored trait. */
export const openTraitValue = (keyring: Keyring, _key: string, value: unknown): unknown =>
  openPersonalData(keyring, value);

/**
 * A metadata column (of consents, traits, identities) as stored: sealed whole, since its keys are
 * the caller's own and may say as much as its values. Stored as a JSON string `enc:...`.
 */
export function sealMetadata(
  keyring: Keyring,
  metadata: Record<string, unknown> | null | undefined,
): Record<string, unknown> | null {
  if (metadata === null || metadata === undefined) return null;
  // The column is typed as the object it holds in plain text; sealed, it holds a JSON string.
  return sealJson(keyring, metadata) as unknown as Record<string, unknown>;
}

/** A metadata column's object; rows written before sealing hold the plain object. */
export function openMetadata<T extends Record<string, unknown> | null>(keyring: Keyring, metadata: T): T {
  return (isSealed(metadata) ? openValue(keyring, metadata) : metadata) as T;
}

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
