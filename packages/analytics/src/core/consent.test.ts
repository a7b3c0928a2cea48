import { describe, expect, it } from 'vitest';
import { cleanPreferences, collecting } from './consent';

describe('collecting', () => {
  it('without requireConsent collects until analytics is denied', () => {
    expect(collecting(null, false)).toBe('yes');
    expect(collecting({ marketing: false }, false)).toBe('yes');
    expect(collecting({ analytics: false }, false)).toBe('no');
  });

  it('with requireConsent waits for an explicit grant', () => {
    expect(collecting(null, true)).toBe('pending');
    expect(collecting({ marketing: true }, true)).toBe('pending');
    expect(collecting({ analytics: true }, true)).toBe('yes');
    expect(collecting({ analytics: false, marketing: true }, true)).toBe('no');
  });
});

describe('cleanPreferences', () => {
  it('keeps boolean categories only', () => {
    expect(cleanPreferences({ analytics: true, marketing: false, x: 'yes', y: 1, z: null })).toEqual({
      analytics: true,
      marketing: false,
    });
  });
});
