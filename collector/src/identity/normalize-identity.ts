import { type CountryCode, parsePhoneNumberFromString } from 'libphonenumber-js';
import { isJunkIdentifier } from './junk-identifiers';

export type IdentityType = 'EMAIL' | 'PHONE' | 'DEVICE_ID' | 'SESSION_ID' | 'EXTERNAL_ID' | 'COOKIE_ID' | 'IP_ADDRESS';

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

/**
 * The canonical form of an identity value, or undefined when it is junk or malformed:
 * emails lower-cased and trimmed, phones in E.164, everything else trimmed.
 */
export function normalizeIdentity(type: IdentityType, value: unknown, defaultCountry = 'US'): string | undefined {
  if (typeof value === 'number' && Number.isFinite(value)) value = String(value);
  if (typeof value !== 'string' || isJunkIdentifier(value)) return undefined;
  const v = value.trim();
  switch (type) {
    case 'EMAIL': {
      const email = v.toLowerCase();
      return EMAIL.test(email) && email.length <= 320 ? email : undefined;
    }
    case 'PHONE': {
      const phone = parsePhoneNumberFromString(v, defaultCountry as CountryCode);
      return phone?.isPossible() ? phone.number : undefined;
    }
    default:
      return v.length <= 512 ? v : undefined;
  }
}
