import type { ConsentPreferences } from './wire';

/** Storage key of the visitor's consent choice (kept even before consent: it is the choice itself). */
export const CONSENT_KEY = 'tributary_consent';

/**
 * The name of the track the SDK sends when consent changes; Segment's consent tools send the same
 * one, so the collector records either. Its `context.consent.categoryPreferences` holds the choice.
 */
export const CONSENT_EVENT = 'Segment Consent Preference Updated';

/** Whether events may be collected: yes, no (denied), or not yet known (`requireConsent` and no choice). */
export type Collecting = 'yes' | 'no' | 'pending';

/**
 * What consent allows. Without `requireConsent` collecting is allowed until analytics is denied;
 * with it, only once analytics is granted.
 *
 * @example
 * collecting({ analytics: true, marketing: false }, true) // 'yes'
 * collecting(null, true) // 'pending'
 */
export function collecting(preferences: ConsentPreferences | null, requireConsent: boolean): Collecting {
  const analytics = preferences?.analytics;
  if (analytics === false) return 'no';
  if (analytics === true) return 'yes';
  return requireConsent ? 'pending' : 'yes';
}

/** Keeps only boolean categories, so whatever a consent banner passes becomes a clean record. */
export function cleanPreferences(input: Record<string, unknown>): ConsentPreferences {
  const out: ConsentPreferences = {};
  for (const k in input) if (typeof input[k] === 'boolean') out[k] = input[k] as boolean;
  return out;
}
