import { eq, inArray } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { identifyCustomer, insertCustomer } from '../../test/customers';
import { testDatabases } from '../../test/databases';
import { API_KEY, callCdp, type Harness, useApp } from '../../test/harness';
import { customerMerges, customerProfiles, customers } from '../db/schema';
import { hashKey } from '../privacy/keys';
import { openProfile } from '../privacy/personal-data';

const UNKNOWN = '00000000-0000-4000-8000-000000000002';

/** Two customers that overlap: both have trait `plan`, consent MARKETING_EMAIL, a first name and a primary email. */
async function twoCustomers(h: Harness, tag: string) {
  const source = await identifyCustomer(h, `src-${tag}`, {
    anonymousId: `anon-src-${tag}`,
    traits: { firstName: 'Sourcey', lastName: 'Source', email: `src-${tag}@example.com`, birthday: '1980-01-02' },
  });
  const target = await identifyCustomer(h, `tgt-${tag}`, {
    traits: { firstName: 'Targetta', email: `tgt-${tag}@example.com`, address: { city: 'Target City' } },
  });
  await callCdp(h, 'POST', `/traits/${source}/batch`, {
    traits: [
      { traitKey: 'plan', traitValue: 'source-plan', traitType: 'LIFECYCLE' },
      { traitKey: 'only_source', traitValue: 7, traitType: 'BEHAVIORAL' },
    ],
  });
  await callCdp(h, 'POST', `/traits/${target}`, {
    traitKey: 'plan',
    traitValue: 'target-plan',
    traitType: 'LIFECYCLE',
  });
  await callCdp(h, 'POST', `/consents/${source}`, { consentType: 'MARKETING_EMAIL', granted: true });
  await callCdp(h, 'POST', `/consents/${source}`, { consentType: 'PROFILING', granted: true });
  await callCdp(h, 'POST', `/consents/${target}`, { consentType: 'MARKETING_EMAIL', granted: false });
  for (const [id, email] of [
    [source, `src-${tag}@example.com`],
    [target, `tgt-${tag}@example.com`],
  ] as const)
    await callCdp(h, 'POST', `/identities/${id}/set-primary`, { identityType: 'EMAIL', identityValue: email });
  return { source, target };
}

const traitValue = async (h: Harness, id: string, key: string) =>
  (await callCdp(h, 'GET', `/traits/${id}/${key}`)).body.trait?.traitValue;
const consent = async (h: Harness, id: string, type: string) =>
  (await callCdp(h, 'GET', `/consents/${id}/${type}`)).body.consent.granted;
const primaryEmail = async (h: Harness, id: string) =>
  (await callCdp(h, 'GET', `/identities/${id}?identityType=EMAIL`)).body.identities.find(
    (i: { isPrimary: boolean }) => i.isPrimary,
  )?.identityValue;

describe.each(testDatabases)('merging customers on $name', (db) => {
  const h = useApp(db);

  it('"merge" moves everything and keeps the target\'s values where both have one', async () => {
    const { source, target } = await twoCustomers(h, 'm');
    const res = await callCdp(h, 'POST', '/identities/merge', {
      sourceCustomerId: source,
      targetCustomerId: target,
      mergeStrategy: 'merge',
    });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      success: true,
      merge: { sourceCustomerId: source, targetCustomerId: target, mergeStrategy: 'merge' },
      customer: { id: target, firstName: 'Targetta', lastName: 'Source', email: 'tgt-m@example.com' },
    });

    expect(await traitValue(h, target, 'plan')).toBe('target-plan');
    expect(await traitValue(h, target, 'only_source')).toBe(7);
    expect(await consent(h, target, 'MARKETING_EMAIL')).toBe(false);
    expect(await consent(h, target, 'PROFILING')).toBe(true);
    expect(await primaryEmail(h, target)).toBe('tgt-m@example.com');
    const ids = (await callCdp(h, 'GET', `/identities/${target}?limit=50`)).body.identities.map(
      (i: { identityValue: string }) => i.identityValue,
    );
    expect(ids).toEqual(
      expect.arrayContaining(['src-m', 'anon-src-m', 'src-m@example.com', 'tgt-m', 'tgt-m@example.com']),
    );
    const history = (await callCdp(h, 'GET', `/consents/${target}/history`)).body.history;
    expect(history).toHaveLength(3);

    const [profile] = await h.database.db
      .select()
      .from(customerProfiles)
      .where(eq(customerProfiles.customerId, target));
    if (!profile) throw new Error('no profile');
    expect(openProfile(h.app.keyring, profile)).toMatchObject({
      dateOfBirth: '1980-01-02',
      address: { city: 'Target City' },
    });

    // The merge is recorded with who made it.
    const [record] = await h.database.db
      .select()
      .from(customerMerges)
      .where(eq(customerMerges.sourceCustomerId, source));
    expect(record).toMatchObject({
      targetCustomerId: target,
      strategy: 'merge',
      actor: `env:${hashKey(API_KEY).slice(0, 12)}`,
    });
    expect(res.body.merge.actor).toBe(record?.actor);
    const [pointer] = await h.database.db.select().from(customers).where(eq(customers.id, source));
    expect(pointer?.mergedIntoId).toBe(target);
  });

  it('"replace" lets the source\'s values win', async () => {
    const { source, target } = await twoCustomers(h, 'r');
    const res = await callCdp(h, 'POST', '/identities/merge', {
      sourceCustomerId: source,
      targetCustomerId: target,
      mergeStrategy: 'replace',
    });
    expect(res.status).toBe(200);
    expect(res.body.customer).toMatchObject({ firstName: 'Sourcey', lastName: 'Source', email: 'src-r@example.com' });
    expect(await traitValue(h, target, 'plan')).toBe('source-plan');
    expect(await traitValue(h, target, 'only_source')).toBe(7);
    expect(await consent(h, target, 'MARKETING_EMAIL')).toBe(true);
    expect(await primaryEmail(h, target)).toBe('src-r@example.com');
  });

  it('answers reads of the merged-away customer with the target, saying so', async () => {
    const { source, target } = await twoCustomers(h, 'read');
    await callCdp(h, 'POST', '/identities/merge', { sourceCustomerId: source, targetCustomerId: target });
    for (const path of [
      `/identities/${source}`,
      `/traits/${source}`,
      `/consents/${source}`,
      `/traits/${source}/plan`,
    ]) {
      const res = await callCdp(h, 'GET', path);
      expect(res.status, path).toBe(200);
      expect(res.body, path).toMatchObject({ customerId: target, mergedFrom: source });
    }
    // Writes through the old ID land on the target too.
    const written = await callCdp(h, 'POST', `/traits/${source}`, {
      traitKey: 'late',
      traitValue: true,
      traitType: 'COMPUTED',
    });
    expect(written.body).toMatchObject({ customerId: target, mergedFrom: source, trait: { customerId: target } });
    const resolved = await callCdp(h, 'GET', '/identity/resolve?identityType=EXTERNAL_ID&identityValue=src-read');
    expect(resolved.body.customerId).toBe(target);
  });

  it("puts events sent later for the source's identifiers on the target", async () => {
    const { source, target } = await twoCustomers(h, 'later');
    await h.send('track', { userId: 'src-later', event: 'Before Merge' });
    await callCdp(h, 'POST', '/identities/merge', { sourceCustomerId: source, targetCustomerId: target });
    await h.send('track', { userId: 'src-later', event: 'After Merge By User' });
    await h.send('track', { anonymousId: 'anon-src-later', event: 'After Merge By Cookie' });
    const recent = await callCdp(h, 'GET', `/events/${target}/recent?limit=50`);
    const names = recent.body.events.map((e: { eventName: string }) => e.eventName);
    expect(names).toEqual(expect.arrayContaining(['Before Merge', 'After Merge By User', 'After Merge By Cookie']));
    const viaSource = await callCdp(h, 'GET', `/events/${source}/recent?limit=50`);
    expect(viaSource.body.events.map((e: { eventName: string }) => e.eventName)).toEqual(names);
  });

  it('refuses with 409 a merge into itself, or from or into a customer merged away', async () => {
    const a = await insertCustomer(h);
    const b = await insertCustomer(h);
    const c = await insertCustomer(h);
    const self = await callCdp(h, 'POST', '/identities/merge', { sourceCustomerId: a, targetCustomerId: a });
    expect(self.status).toBe(409);
    expect((await callCdp(h, 'POST', '/identities/merge', { sourceCustomerId: a, targetCustomerId: b })).status).toBe(
      200,
    );
    const fromMerged = await callCdp(h, 'POST', '/identities/merge', { sourceCustomerId: a, targetCustomerId: c });
    expect(fromMerged.status).toBe(409);
    expect(fromMerged.body.error.message).toContain(b);
    const intoMerged = await callCdp(h, 'POST', '/identities/merge', { sourceCustomerId: c, targetCustomerId: a });
    expect(intoMerged.status).toBe(409);
    // The refused merges changed nothing.
    const [still] = await h.database.db.select().from(customers).where(eq(customers.id, c));
    expect(still?.mergedIntoId).toBeNull();
  });

  it('lets only one of two crossing merges happen', async () => {
    const a = await insertCustomer(h);
    const b = await insertCustomer(h);
    const results = await Promise.all([
      callCdp(h, 'POST', '/identities/merge', { sourceCustomerId: a, targetCustomerId: b }),
      callCdp(h, 'POST', '/identities/merge', { sourceCustomerId: b, targetCustomerId: a }),
    ]);
    expect(results.map((r) => r.status).sort()).toEqual([200, 409]);
    const rows = await h.database.db
      .select()
      .from(customers)
      .where(inArray(customers.id, [a, b]));
    expect(rows.filter((r) => r.mergedIntoId)).toHaveLength(1);
  });

  it('answers 404 for unknown customers and 400 naming the field for a bad body', async () => {
    const a = await insertCustomer(h);
    const unknownSource = await callCdp(h, 'POST', '/identities/merge', {
      sourceCustomerId: UNKNOWN,
      targetCustomerId: a,
    });
    expect(unknownSource.status).toBe(404);
    expect(unknownSource.body.error.message).toContain('source');
    const unknownTarget = await callCdp(h, 'POST', '/identities/merge', {
      sourceCustomerId: a,
      targetCustomerId: UNKNOWN,
    });
    expect(unknownTarget.status).toBe(404);
    expect(unknownTarget.body.error.message).toContain('target');
    const bad = await callCdp(h, 'POST', '/identities/merge', {
      sourceCustomerId: 'nope',
      targetCustomerId: a,
      mergeStrategy: 'union',
    });
    expect(bad.status).toBe(400);
    expect(bad.body.error.issues.map((i: { path: string }) => i.path).sort()).toEqual([
      'json.mergeStrategy',
      'json.sourceCustomerId',
    ]);
  });
});
