import { describe, expect, it } from 'vitest';
import { LIMITS, UserAgent } from './segment';

describe('UserAgent', () => {
  it('cuts a long user agent to the limit, leaving U+FFFD where the cut splits a surrogate pair', () => {
    const long = `${'a'.repeat(LIMITS.userAgentChars - 1)}😀${'b'.repeat(100)}`;
    const cut = UserAgent.parse(long);
    expect(cut).toHaveLength(LIMITS.userAgentChars);
    expect(cut.isWellFormed()).toBe(true);
    expect(cut.endsWith('\uFFFD')).toBe(true);
    expect(UserAgent.parse('Mozilla/5.0 😀')).toBe('Mozilla/5.0 😀');
  });
});
