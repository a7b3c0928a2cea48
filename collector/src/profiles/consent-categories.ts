import { CONSENT_TYPES, type ConsentType } from '@tributary/spec';
import type { EventRow } from '../ingest/event-row';
import { isPlainObject } from '../is-plain-object';

/**
 * Consent-manager categories (OneTrust, Segment Consent Management, cookie banners) onto the spec's
 * consent types. Keys are compared lower-cased with separators removed, so `third_party`,
 * `third-party` and `thirdParty` are one category. The README documents this table. A Map: a
 * category is named by the sender, `constructor` and `__proto__` included.
 */
export const CATEGORY_CONSENT_TYPES: ReadonlyMap<string, readonly ConsentType[]> = new Map([
  ['analytics', ['ANALYTICS_TRACKING']],
  ['marketing', ['MARKETING_EMAIL', 'MARKETING_SMS', 'MARKETING_PUSH']],
  ['personalization', ['PERSONALIZATION']],
  ['personalisation', ['PERSONALIZATION']],
  ['profiling', ['PROFILING']],
  ['advertising', ['THIRD_PARTY_SHARING']],
  ['thirdparty', ['THIRD_PARTY_SHARING']],
  ['functional', ['DATA_PROCESSING']],
  ['dataprocessing', ['DATA_PROCESSING']],
]);

const SPEC_TYPES = new Set<string>(CONSENT_TYPES);
const categoryKey = (c: string) => c.toLowerCase().replace(/[\s_-]/g, '');

/**
 * The consent each type gets from `context.consent.categoryPreferences`. A spec type named directly
 * (`MARKETING_SMS: false`) wins over a category that covers it (`marketing: true`); categories that
 * map to nothing (`necessary`, say) are ignored.
 */
export function consentFromCategories(preferences: Record<string, unknown>): Map<ConsentType, boolean> {
  const fromCategories = new Map<ConsentType, boolean>();
  const direct = new Map<ConsentType, boolean>();
  for (const [category, value] of Object.entries(preferences)) {
    if (typeof value !== 'boolean') continue;
    if (SPEC_TYPES.has(category)) {
      direct.set(category as ConsentType, value);
      continue;
    }
    for (const type of CATEGORY_CONSENT_TYPES.get(categoryKey(category)) ?? []) fromCategories.set(type, value);
  }
  return new Map([...fromCategories, ...direct]);
}

/** What an event says about consent: its `context.consent.categoryPreferences`, if it carries any. */
export function consentPreferencesOf(row: Pick<EventRow, 'context'>): Record<string, unknown> | undefined {
  const consent = row.context.consent;
  if (!isPlainObject(consent) || !isPlainObject(consent.categoryPreferences)) return undefined;
  return consent.categoryPreferences;
}
