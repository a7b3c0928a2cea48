import type { SegmentCall } from '@tributary/spec';
import { type IdentityType, normalizeIdentity } from '../identity/normalize-identity';
import { isPlainObject } from '../is-plain-object';
import { blindIndex, type Keyring } from '../privacy/encryption';

/** `TYPE:hash`: an identifier by its blind index, as the suppression list keeps it. */
export const identifierKey = (keyring: Keyring, type: IdentityType, normalized: string) =>
  `${type}:${blindIndex(keyring, type, normalized)}`;

/**
 * Which identity a trait holds, by its name: any name with `email` in it is an email (`email`,
 * `workEmail`, `email_address`), any with `phone` or `mobile` a phone. Broader than the names identity
 * linking reads, on purpose: a call carrying a suppressed person's email under any name is theirs.
 */
function identityTypeOfTrait(name: string): 'EMAIL' | 'PHONE' | undefined {
  const key = name.toLowerCase();
  if (key.includes('email')) return 'EMAIL';
  if (key.includes('phone') || key.includes('mobile')) return 'PHONE';
  return undefined;
}

/** The emails and phones among the traits of these objects (any that are not objects are skipped), as `identifierKey`s. */
export function traitIdentifiers(holders: readonly unknown[], keyring: Keyring, defaultPhoneCountry = 'US'): string[] {
  const keys: string[] = [];
  for (const holder of holders) {
    if (!isPlainObject(holder)) continue;
    for (const name in holder) {
      const type = identityTypeOfTrait(name);
      const normalized = type && normalizeIdentity(type, holder[name], defaultPhoneCountry);
      if (type && normalized) keys.push(identifierKey(keyring, type, normalized));
    }
  }
  return keys;
}

/**
 * The identifiers a call carries besides its userId and anonymousId, as `identifierKey`s: the emails
 * and phones of its traits (an identify's `traits`, any call's `context.traits`) and an alias's
 * previousId (an earlier userId or anonymous ID). Null when there are none: an event without traits
 * costs two property reads. Computed while decoding, off the main thread, so that the suppression
 * check there only compares hashes.
 */
export function carriedIdentifiers(call: SegmentCall, keyring: Keyring, defaultPhoneCountry = 'US'): string[] | null {
  const traits = call.type === 'identify' ? call.traits : undefined;
  const contextTraits = call.context?.traits;
  const previousId = call.type === 'alias' ? call.previousId : undefined;
  if (!traits && !contextTraits && !previousId) return null;
  const keys = traitIdentifiers([traits, contextTraits], keyring, defaultPhoneCountry);
  for (const type of ['EXTERNAL_ID', 'COOKIE_ID'] as const) {
    const normalized = previousId && normalizeIdentity(type, previousId);
    if (normalized) keys.push(identifierKey(keyring, type, normalized));
  }
  return keys.length ? keys : null;
}
