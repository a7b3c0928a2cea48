import { readFileSync } from 'node:fs';
import { SegmentCall, type SegmentCallInput } from '@tributary/spec';
import { describe, expect, expectTypeOf, it } from 'vitest';
import { buildEvent } from './event-builder';
import { VERSION } from './version';
import type { WireEvent } from './wire';

describe('the wire format', () => {
  it("is assignable to the collector's schema input type, call by call", () => {
    type Of<T extends WireEvent['type']> = Extract<SegmentCallInput, { type: T }>;
    type Extends<A, B> = [A] extends [B] ? true : false;
    expectTypeOf<Extends<WireEvent & { type: 'track'; event: string }, Of<'track'>>>().toEqualTypeOf<true>();
    expectTypeOf<Extends<WireEvent & { type: 'page' }, Of<'page'>>>().toEqualTypeOf<true>();
    expectTypeOf<Extends<WireEvent & { type: 'identify' }, Of<'identify'>>>().toEqualTypeOf<true>();
    expectTypeOf<Extends<WireEvent & { type: 'group'; groupId: string }, Of<'group'>>>().toEqualTypeOf<true>();
    expectTypeOf<
      Extends<WireEvent & { type: 'alias'; previousId: string; userId: string }, Of<'alias'>>
    >().toEqualTypeOf<true>();
    // The check can fail: a wrong field type does not pass.
    type Wrong = Omit<WireEvent, 'timestamp'> & { type: 'track'; event: string; timestamp: number };
    expectTypeOf<Extends<Wrong, Of<'track'>>>().toEqualTypeOf<false>();
  });

  it('passes the collector schema for every call type', () => {
    const ids = { anonymousId: 'a1', userId: 'u1' };
    const context = {
      library: { name: '@tributary/analytics', version: VERSION },
      sessionId: 1,
      consent: { categoryPreferences: { analytics: true } },
    };
    const calls = [
      buildEvent('track', { event: 'Clicked', properties: { x: 1 } }, ids, context, { eventType: 'BUTTON_CLICK' }),
      buildEvent('page', { name: 'Home', category: 'Docs', properties: { path: '/' } }, ids, context),
      buildEvent('identify', { traits: { email: 'a@b.co' } }, ids, context),
      buildEvent('group', { groupId: 'g1', traits: {} }, ids, context),
      buildEvent('alias', { previousId: 'a1' }, ids, context),
    ];
    for (const call of calls) {
      const parsed = SegmentCall.safeParse({ ...call, sentAt: new Date().toISOString() });
      expect(parsed.error?.issues ?? []).toEqual([]);
    }
  });

  it('stamps the version of package.json', () => {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8'));
    expect(VERSION).toBe(pkg.version);
  });
});
