import { randomBytes } from 'node:crypto';
import { expect } from 'vitest';
import type { CustomerReadBack } from './read-back';

/** Values every library takes as event properties. */
type Properties = Record<string, string | number | boolean | string[]>;

/**
 * One visitor's session, the same whichever library sends it: an anonymous page view and a track,
 * then the visitor logs in (identify with traits), joins a company (group) and gets a new userId
 * (alias). Plain data, so it can be handed to the page.
 */
export interface Visitor {
  page: { category: string; name: string; properties: Properties };
  track: { event: string; properties: Properties };
  userId: string;
  traits: { email: string; name: string };
  groupId: string;
  groupTraits: { name: string };
  /** The userId alias() gives the visitor, replacing `userId`. */
  aliasTo: string;
}

/** The calls a visit sends: one event each. */
export const VISIT_CALLS = ['page', 'track', 'identify', 'group', 'alias'] as const;

/** A visitor of its own (its IDs are unique), so tests can share a collector. */
export function newVisitor(client: string): Visitor {
  const tag = `${client}-${randomBytes(4).toString('hex')}`;
  return {
    page: { category: 'Docs', name: 'Pricing', properties: { path: '/pricing', title: 'Pricing', plan: 'pro' } },
    track: { event: 'Plan Selected', properties: { plan: 'pro', price: 42.5, seats: 3, addons: ['sso'] } },
    userId: `user-${tag}`,
    traits: { email: `ada-${tag}@example.com`, name: 'Ada Lovelace' },
    groupId: `org-${tag}`,
    groupTraits: { name: 'Analytical Engines Ltd' },
    aliasTo: `member-${tag}`,
  };
}

/** What a library sends differently from the plain visit, and so changes what is stored. */
export interface Quirks {
  /**
   * analytics-next 1.84.3 stamps every event with the current userId as it builds it, alias
   * included: `alias(to)` after identify sends `userId` = `previousId` = the current userId, and `to`
   * never leaves the browser.
   */
  aliasKeepsUserId?: boolean;
}

/**
 * Asserts what the CDP API answers about a visit's customer (found by its userId): every call stored
 * once with its properties, identify's traits as traits and customer fields, and the anonymous history
 * (page and track, sent before login with only `anonymousId`) stitched to the customer.
 */
export function expectVisitorStored(
  back: CustomerReadBack,
  visitor: Visitor,
  anonymousId: string,
  quirks: Quirks = {},
): void {
  const { events, identities, traits, view } = back;
  expect(events.map((e) => e.callType).sort()).toEqual([...VISIT_CALLS].sort());
  const event = (callType: string) => events.find((e) => e.callType === callType);

  // Sent while anonymous: found through the customer only because the anonymous ID was stitched to it.
  expect(event('page')).toMatchObject({
    anonymousId,
    userId: null,
    eventName: visitor.page.name,
    eventCategory: visitor.page.category,
    properties: expect.objectContaining(visitor.page.properties),
  });
  expect(event('track')).toMatchObject({
    anonymousId,
    userId: null,
    eventName: visitor.track.event,
    properties: visitor.track.properties,
  });
  expect(event('identify')).toMatchObject({ anonymousId, userId: visitor.userId });
  expect(event('group')).toMatchObject({ userId: visitor.userId, metadata: { groupId: visitor.groupId } });
  const aliasedTo = quirks.aliasKeepsUserId ? visitor.userId : visitor.aliasTo;
  expect(event('alias')).toMatchObject({ userId: aliasedTo, metadata: { previousId: visitor.userId } });

  const traitValues = Object.fromEntries(traits.map((t) => [t.traitKey, t.traitValue]));
  expect(traitValues).toMatchObject(visitor.traits);
  expect(traits.filter((t) => t.traitKey in visitor.traits).map((t) => t.source)).toEqual(['identify', 'identify']);

  const identityValues = identities.map((i) => `${i.identityType}:${i.identityValue}`);
  expect(identityValues).toEqual(
    expect.arrayContaining([
      `COOKIE_ID:${anonymousId}`,
      `EXTERNAL_ID:${visitor.userId}`,
      `EXTERNAL_ID:${aliasedTo}`,
      `EMAIL:${visitor.traits.email}`,
    ]),
  );

  expect(view.customer).toMatchObject({ email: visitor.traits.email, firstName: 'Ada', lastName: 'Lovelace' });
  expect(view.recentEvents.map((e) => e.messageId)).toEqual(
    expect.arrayContaining([event('page')?.messageId, event('track')?.messageId]),
  );
}
