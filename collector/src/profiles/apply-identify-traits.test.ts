import { eq } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { identifyCustomer } from '../../test/customers';
import { testDatabases } from '../../test/databases';
import { type Harness, useApp } from '../../test/harness';
import { customerProfiles, customers } from '../db/schema';
import { openCustomer, openProfile } from '../privacy/personal-data';
import { customerFieldsOf, dateOfBirth, identifyTraitType } from './apply-identify-traits';

describe('identify trait mapping', () => {
  it('splits a name when no first or last name is given', () => {
    expect(customerFieldsOf({ name: '  Grace Brewster Hopper ' }, 'US')).toEqual({
      firstName: 'Grace',
      lastName: 'Brewster Hopper',
    });
    expect(customerFieldsOf({ name: 'Cher' }, 'US')).toEqual({ firstName: 'Cher' });
    expect(customerFieldsOf({ name: 'Ada Lovelace', first_name: 'Augusta' }, 'US')).toEqual({ firstName: 'Augusta' });
  });

  it('normalizes email and phone and skips malformed ones', () => {
    expect(customerFieldsOf({ email: ' X@Y.com ', phone: '020 7183 8750' }, 'GB')).toEqual({
      email: 'x@y.com',
      phoneNumber: '+442071838750',
    });
    expect(customerFieldsOf({ email: 'nope', phone: '1' }, 'US')).toEqual({});
  });

  it('reads birthdays as dates and refuses implausible ones', () => {
    expect(dateOfBirth('1990-05-17')).toBe('1990-05-17');
    expect(dateOfBirth('1990-05-17T00:00:00.000Z')).toBe('1990-05-17');
    expect(dateOfBirth('not a date')).toBeUndefined();
    expect(dateOfBirth('1800-01-01')).toBeUndefined();
    expect(dateOfBirth('2999-01-01')).toBeUndefined();
    expect(dateOfBirth(19900517)).toBeUndefined();
  });

  it('types personal fields DEMOGRAPHIC, preferences PREFERENCE, plan and status LIFECYCLE', () => {
    expect(identifyTraitType('firstName')).toBe('DEMOGRAPHIC');
    expect(identifyTraitType('address')).toBe('DEMOGRAPHIC');
    expect(identifyTraitType('preferences')).toBe('PREFERENCE');
    expect(identifyTraitType('plan')).toBe('LIFECYCLE');
  });
});

type Trait = { traitKey: string; traitValue: unknown; traitType: string; source: string };

describe.each(testDatabases)('identify traits through ingestion on $name', (db) => {
  const h = useApp(db);
  const traitsOf = async (h: Harness, id: string): Promise<Record<string, Trait>> => {
    const res = await h.call('GET', `/api/v1/cdp/traits/${id}?limit=100`);
    const body = await res.json();
    return Object.fromEntries(body.traits.map((t: Trait) => [t.traitKey, t]));
  };

  it('stores every trait with source identify and its JSON type', async () => {
    const id = await identifyCustomer(h, 'traits-1', {
      traits: {
        firstName: 'Ada',
        age: 36,
        vip: true,
        tags: ['a', 'b'],
        plan: 'gold',
        zip: '02139',
        preferences: { newsletter: true },
        nothing: null,
      },
    });
    const traits = await traitsOf(h, id);
    expect(Object.keys(traits).sort()).toEqual([
      'age',
      'firstName',
      'nothing',
      'plan',
      'preferences',
      'tags',
      'vip',
      'zip',
    ]);
    expect(traits.firstName).toMatchObject({ traitValue: 'Ada', traitType: 'DEMOGRAPHIC', source: 'identify' });
    expect(traits.age?.traitValue).toBe(36);
    expect(traits.vip?.traitValue).toBe(true);
    expect(traits.zip?.traitValue).toBe('02139');
    expect(traits.tags?.traitValue).toEqual(['a', 'b']);
    expect(traits.nothing?.traitValue).toBeNull();
    expect(traits.plan?.traitType).toBe('LIFECYCLE');
    expect(traits.preferences).toMatchObject({ traitType: 'PREFERENCE', traitValue: { newsletter: true } });
  });

  it('fills the customer and profile fields the traits name', async () => {
    const id = await identifyCustomer(h, 'fields-1', {
      traits: {
        first_name: 'Ada',
        last_name: 'Lovelace',
        email: ' Ada@Example.COM ',
        phone: '+1 (415) 555-2671',
        birthday: '1815-12-10',
        dateOfBirth: '1990-12-10',
        address: { street: '1 Analytical Way', city: 'London', postalCode: 'N1', country: 'GB' },
        preferences: { newsletter: true, sms: false },
        preferredContact: 'email',
      },
    });
    const [customer] = await h.database.db.select().from(customers).where(eq(customers.id, id));
    if (!customer) throw new Error('no customer');
    // Stored sealed, read through the keyring.
    expect(customer.email).toMatch(/^enc:/);
    expect(openCustomer(h.app.keyring, customer)).toMatchObject({
      firstName: 'Ada',
      lastName: 'Lovelace',
      email: 'ada@example.com',
      phoneNumber: '+14155552671',
    });
    const [profile] = await h.database.db.select().from(customerProfiles).where(eq(customerProfiles.customerId, id));
    if (!profile) throw new Error('no profile');
    expect(profile.address).toMatch(/^enc:/);
    // `birthday` comes first but is implausible, so `dateOfBirth` is not reached: the profile keeps nothing wrong.
    expect(openProfile(h.app.keyring, profile)).toMatchObject({
      dateOfBirth: null,
      address: { street: '1 Analytical Way', city: 'London', postalCode: 'N1', country: 'GB' },
      preferences: { newsletter: true, sms: false },
      preferredContact: 'email',
    });

    // A later identify updates what it names, merges preferences and leaves the rest.
    await h.send('identify', {
      userId: 'fields-1',
      traits: { name: 'Augusta King', birthday: '1990-12-10', preferences: { sms: true } },
    });
    const [after] = await h.database.db.select().from(customers).where(eq(customers.id, id));
    if (!after) throw new Error('no customer');
    expect(openCustomer(h.app.keyring, after)).toMatchObject({
      firstName: 'Augusta',
      lastName: 'King',
      email: 'ada@example.com',
    });
    const [profileAfter] = await h.database.db
      .select()
      .from(customerProfiles)
      .where(eq(customerProfiles.customerId, id));
    if (!profileAfter) throw new Error('no profile');
    expect(openProfile(h.app.keyring, profileAfter)).toMatchObject({
      dateOfBirth: '1990-12-10',
      preferences: { newsletter: true, sms: true },
      preferredContact: 'email',
      address: { city: 'London', street: '1 Analytical Way', postalCode: 'N1', country: 'GB' },
    });
  });

  it('does not let an older identify overwrite a newer trait', async () => {
    const id = await identifyCustomer(h, 'order-1', {
      timestamp: '2024-06-01T00:00:00Z',
      traits: { plan: 'gold' },
    });
    await h.send('identify', {
      userId: 'order-1',
      timestamp: '2024-05-01T00:00:00Z',
      traits: { plan: 'trial', seats: 3 },
    });
    const traits = await traitsOf(h, id);
    expect(traits.plan?.traitValue).toBe('gold');
    expect(traits.seats?.traitValue).toBe(3);
    await h.send('identify', {
      userId: 'order-1',
      timestamp: '2024-07-01T00:00:00Z',
      traits: { plan: 'platinum' },
    });
    expect((await traitsOf(h, id)).plan?.traitValue).toBe('platinum');
  });

  it('leaves customer fields alone when the traits carry malformed values', async () => {
    const id = await identifyCustomer(h, 'junk-1', { traits: { email: 'not-an-email', phone: 'call me' } });
    const [customer] = await h.database.db.select().from(customers).where(eq(customers.id, id));
    expect(customer).toMatchObject({ email: null, phoneNumber: null });
    expect((await traitsOf(h, id)).email?.traitValue).toBe('not-an-email');
  });
});
