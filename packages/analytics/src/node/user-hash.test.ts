import { describe, expect, it } from 'vitest';
import { userHash as collectorUserHash, verifyUserHash } from '../../../../collector/src/privacy/identity-verification';
import { userHash } from './user-hash';

describe('userHash', () => {
  it('computes the signature the collector verifies', () => {
    const hash = userHash('vs_secret', 'user-42');
    expect(hash).toMatch(/^[0-9a-f]{64}$/);
    expect(hash).toBe(collectorUserHash('vs_secret', 'user-42'));
    expect(verifyUserHash('vs_secret', 'user-42', hash)).toBe(true);
    expect(verifyUserHash('vs_other', 'user-42', hash)).toBe(false);
  });
});
