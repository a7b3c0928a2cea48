import type { IdentityType } from '@tributary/spec';
import { badRequest } from '../http/errors';
import { normalizeIdentity } from './normalize-identity';

/**
 * The normalized value of an identity from a request, or a 400 naming the field when the value is
 * junk (`null`, `undefined`, `0` ...) or malformed (an email without a domain, an impossible phone).
 */
export function parseIdentityValue(
  type: IdentityType,
  value: string,
  options: { defaultPhoneCountry: string; field: string },
): string {
  const normalized = normalizeIdentity(type, value, options.defaultPhoneCountry);
  if (normalized === undefined) {
    const message = `is not a usable ${type} value`;
    throw badRequest(`${options.field}: ${message}`, [{ path: options.field, message }]);
  }
  return normalized;
}
